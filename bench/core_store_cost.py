"""The task core's own cost per store, without HTTP and without .NET: SQLite against PostgreSQL.

Drives a :class:`~krtasks.core.service.TaskService` on the fast tier's scripted fake engine (each task ends
at once) over the SQLite store and over a one-node PostgreSQL store (a throwaway server from
tests/python/pg_fixtures.py with ``fsync=on``), creating ``--tasks`` tasks with AutoStart, 8 in flight, each
waited for; after 20 untimed ones. Prints tasks/s and this process's CPU ms per task (``time.process_time``:
the core, the store driver and the journal; the database server's own CPU is not in it).

    .venv/bin/python bench/core_store_cost.py [--tasks 400]

It tells the store path's share of a node's cost apart from the engines' and the workers' (bench/cluster.py
measures whole daemons). Nothing is asserted and no results file is written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))

from krtasks.core.service import TaskService  # noqa: E402
from krtasks.models import ServiceConfig, TaskSpec  # noqa: E402
from krtasks.store import TaskStore, open_store  # noqa: E402
from krtasks.store.postgres import open_postgres_store  # noqa: E402
from pg_fixtures import run_server  # noqa: E402
from unit.fakes import FakeClock, FakeEngines, Script  # noqa: E402

IN_FLIGHT = 8
WARMUP = 20


async def measure(store: TaskStore, tasks: int) -> tuple[float, float]:
    """Tasks/s and CPU ms per task of ``tasks`` fake tasks over ``store`` (closed afterwards)."""
    engines = FakeEngines(FakeClock())
    engines.scripts["done"] = Script()
    service = TaskService(ServiceConfig(max_runspaces=IN_FLIGHT, stop_grace_seconds=1.0), engines=engines, store=store)
    await service.open()
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with gate:
            record = await service.create(TaskSpec(code="done", auto_start=True))
            await service.wait(record["Id"], 30)

    try:
        for _ in range(WARMUP):
            await one()
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(tasks)))
        return tasks / (time.perf_counter() - wall), 1000 * (time.process_time() - cpu) / tasks
    finally:
        await service.close(grace_seconds=0.1)


def main() -> None:
    """Run both stores and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400, help="timed tasks per store (%(default)s)")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="krtasks-core-"))
    state.chmod(0o700)
    results = {"sqlite": asyncio.run(measure(open_store(state), args.tasks))}
    with run_server(fsync=True) as server:
        results["postgresql"] = asyncio.run(measure(open_postgres_store(server.new_database(), "n1"), args.tasks))
    for name, (rate, cpu) in results.items():
        print(f"{name:<11} {rate:8.1f} tasks/s {cpu:7.2f} ms CPU per task")


if __name__ == "__main__":
    main()
