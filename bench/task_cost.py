"""Where the time of one small task goes, per isolation mode (issue 14: "find where the ~8 ms go").

    .venv/bin/python bench/task_cost.py [--tasks 300] [--modes process,thread]

For each mode, on a fresh daemon, ``--tasks`` one-call PowerShell tasks ``1`` run one after another over one
kept-alive HTTPS connection (fresh runspaces, then with ReuseRunspace), then the same number of cached C#
tasks. Reported per task:

- ``roundtrip_ms``: the client's one call, p50;
- ``http_floor_ms``: ``GET /api/v1/health`` on the same connection, p50 — TLS, HTTP parsing, the middleware
  chain and the client, with no task work;
- ``run_ms``: StartedAt → CompletedAt from the records, p50 — the engine: a runspace, the invocation, the
  output's conversion and, in process isolation, the messages to and from the worker;
- ``commit_ms``: one SQLite commit on the state dir's disk with the store's settings (WAL,
  ``synchronous=FULL``), p50 — a one-call task waits for its final commit (its first one overlaps the run);
- ``daemon_cpu_ms`` / ``workers_cpu_ms``: CPU time (user + system) the daemon and its workers spent per task,
  from /proc — less sensitive to other load on the machine than wall times;
- ``rest_ms``: roundtrip - http floor - run - commit: the daemon's own request work (validation, parse,
  registry, journal, hub, JSON) and scheduling.

Results go to stdout as JSON (and a table on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from harness import Daemon, LeanClient

CS_CODE = "return 40 + 2;"


def p50(values: list[float]) -> float:
    """The median, rounded."""
    return round(statistics.median(values), 3)


def cpu_s(pid: int, workers: bool) -> float:
    """CPU seconds (user + system) of the daemon, or of its worker processes."""
    proc = psutil.Process(pid)
    if not workers:
        t = proc.cpu_times()
        return float(t.user + t.system)
    total = 0.0
    for child in proc.children():
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def commit_ms(directory: Path, samples: int = 200) -> float:
    """p50 of one small committed transaction with the store's settings, on ``directory``'s disk."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        conn = sqlite3.connect(Path(tmp) / "commit.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (x)")
        times = []
        for i in range(samples):
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
            times.append((time.perf_counter() - t0) * 1000)
        conn.close()
    return p50(times)


def _ms_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000


async def one_kind(
    client: LeanClient, daemon: Daemon, n: int, language: str, code: str, expect: Any, **fields: Any
) -> dict[str, float]:
    for _ in range(max(10, n // 10)):  # warm-up: JIT tiering, the pool, the compile cache
        record = await client.oneshot(language, code, **fields)
        await client.remove(record["Id"])
    trips: list[float] = []
    runs: list[float] = []
    floors: list[float] = []
    ids: list[str] = []
    cpu0 = cpu_s(daemon.pid, False), cpu_s(daemon.pid, True)
    for _ in range(n):
        t0 = time.perf_counter()
        await client._call("GET", "/health", 200)
        floors.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        record = await client.oneshot(language, code, **fields)
        trips.append((time.perf_counter() - t0) * 1000)
        if record["State"] != "Completed" or record["Output"] != expect:
            raise RuntimeError(f"unexpected: {record}")
        runs.append(_ms_between(record["StartedAt"], record["CompletedAt"]))
        ids.append(record["Id"])
    cpu1 = cpu_s(daemon.pid, False), cpu_s(daemon.pid, True)
    for task_id in ids:
        await client.remove(task_id)
    return {
        "roundtrip_ms": p50(trips),
        "http_floor_ms": p50(floors),
        "run_ms": p50(runs),
        # The health requests are in the CPU figures too; they are cheap next to a task.
        "daemon_cpu_ms": round((cpu1[0] - cpu0[0]) * 1000 / n, 2),
        "workers_cpu_ms": round((cpu1[1] - cpu0[1]) * 1000 / n, 2),
    }


async def measure(mode: str, n: int) -> dict[str, Any]:
    daemon = Daemon(max_runspaces=8, isolation=mode)
    daemon.launch()
    await daemon.wait_healthy()
    try:
        await asyncio.sleep(5)  # workers and the Roslyn warm-up settle
        commit = commit_ms(daemon.state_dir)
        out: dict[str, Any] = {"commit_ms": commit}
        async with LeanClient(daemon) as client:
            ps = ("PowerShell", "1", [1])
            kinds: dict[str, tuple[tuple[str, str, Any], dict[str, Any]]] = {
                "ps_fresh": (ps, {}),
                "ps_reuse": (ps, {"ReuseRunspace": True}),
                "cs_cached": (("CSharp", CS_CODE, 42), {}),
            }
            for name, ((language, code, expect), fields) in kinds.items():
                r = await one_kind(client, daemon, n, language, code, expect, **fields)
                r["rest_ms"] = round(r["roundtrip_ms"] - r["http_floor_ms"] - r["run_ms"] - commit, 3)
                out[name] = r
        return out
    finally:
        daemon.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--modes", default="process,thread")
    args = parser.parse_args()
    results: dict[str, Any] = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    for mode in args.modes.split(","):
        results[mode] = asyncio.run(measure(mode, args.tasks))
        print(f"{mode}: {json.dumps(results[mode])}", file=sys.stderr)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
