"""The shared PostgreSQL store against SQLite, in one run (issue 15's bench).

Run it directly, or through ``dotnet pwsh ./build.ps1 -Task BenchCluster`` (which builds first):

    .venv/bin/python bench/cluster.py [--tasks 300] [--connections 8] [--claim-samples 20]

It starts a throwaway PostgreSQL server (``run_server`` of tests/python/pg_fixtures.py, with ``fsync=on``
so its commits are as durable as the SQLite store's ``synchronous=FULL``), then real daemons over HTTPS on
loopback, all with process isolation (the default) and ``--max-runspaces 8``:

1. one daemon on the default SQLite store (the baseline);
2. PostgreSQL nodes on one fresh database, ``--token-file`` shared, ``--lease 30s``: one node, then a
   second and a third joined to the same database (each phase measures all the nodes up at the time).

In each configuration:

- **throughput** (tasks/s): ``--tasks`` PowerShell tasks ``1`` created with AutoStart over
  ``--connections`` concurrent kept-alive connections, task *k* on node *k mod nodes*, then each waited
  for (``/wait`` on the node that created it); tasks / seconds from the first create to the last answer,
  after untimed warm-up bursts of ``--warmup`` tasks, repeated until one starts no worker process (a
  worker's .NET start costs seconds of CPU; the pools must be full before timing).
  ``pg_overhead_vs_sqlite_1node`` = SQLite's tasks/s / one PostgreSQL node's (target ≤ 1.3). On two
  cores the daemons, their workers and the server share the CPU, so more nodes add no cores: the 2- and
  3-node figures show the cost of coordination, not scaling.
- **store time per task** (ms): the daemon has no store metric, so the daemons run with
  ``serve_wrapper.py --store-timing`` (bench/store_timing.py), which times every unit of store work (SQLite:
  the writer thread's group-commit batches; PostgreSQL: each use of a node's ``writes`` or ``background``
  connection, statements to decoded answer) and serves the sums at ``/metrics``. The delta over the timed
  throughput phase, summed over the nodes, divided by ``--tasks``: wall time the store was busy per task
  (it includes the nodes' lease renewals, polls and heartbeats during the phase, and waiting for a core
  under load; it is not CPU time). ``pg_extra_store_ms_per_task_1node`` = PostgreSQL (1 node) - SQLite.
  Also the store's units of work per task, and CPU ms per task of the daemons with their workers and of
  the PostgreSQL server (psutil, the same phase).
- **start request** (ms, p50/p90): ``POST /tasks/{id}/start`` of a NotStarted task on an idle daemon,
  answer received - request sent (client side, one connection, samples one at a time).

And on PostgreSQL, **claim latency** (ms, p50/p90), on idle nodes, one task at a time, each task ``1``
waited for and removed before the next:

- ``claim_latency_ms``: a task started (``POST …/start``) on an idle node. The node queues it under the
  row lock and claims it before it answers, so the start's answer already says Running and a client-side
  "answer → Running" would be about zero; what is measured instead is the task's own queued → running
  time, read from its row after it finished: ``started_at`` (set by the claiming node from its clock as
  it issues the claim) - ``queued_at`` (the database's ``now()`` of the start's transaction). Both clocks
  are this machine's, so no skew between them.
- ``claim_latency_notify_ms``: the same interval for a task queued by a statement from outside every node
  (``UPDATE … SET state = 'Queued', queued_at = now()``, as a node without free slots leaves a task for
  the others), so an idle node must learn of it from the ``NOTIFY`` of the queue trigger (or its ≤ 1 s
  poll) and claim it; ``claimed_by`` counts which node did.

The top-level keys take the start path at 1 node and the notify path at the largest cluster. Results go
to bench/results/cluster-<UTC timestamp>.json (gitignored), a table to stdout. Targets are reported, never
failed on. Figures taken while other work loads the machine are noisy: the results record the load
average at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import psycopg
from harness import ROOT, ApiClient, Client, Daemon, LeanClient
from run_bench import PS, log, machine_info, median, p90

if TYPE_CHECKING:
    from pg_fixtures import PgServer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
OVERHEAD_TARGET = 1.3
"""``pg_overhead_vs_sqlite_1node`` should be at most this (SQLite tasks/s over one PostgreSQL node's)."""
FINISHED = ("Completed", "Failed", "Stopped")
SETTLE_S = 3.0
"""Seconds to let a started daemon's first workers and warm-up settle before measuring."""
IDLE_GAP_S = 0.1
"""Pause between latency samples, so each finds the node idle (its worker back in the pool)."""
WAIT_LIMIT_S = 300.0
"""Longest wait for one task to finish (``/wait`` asked again until then)."""
WARMUP_ROUNDS = 10
"""Most warm-up bursts: they repeat until one starts no worker process (the pools are full)."""
_SAMPLE = re.compile(r"^krtasks_bench_store_(busy_seconds|calls)_total\{(.*)\}$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Settings:
    """The run's parameters; the defaults take about 3 minutes on 2 cores (longer under load)."""

    tasks: int = 300
    """Tasks per throughput measurement."""
    warmup: int = 60
    """Tasks per warm-up burst (bursts repeat until the worker pools are full; 0: no warm-up)."""
    connections: int = 8
    """Concurrent connections (requests in flight) of a throughput measurement, over all nodes."""
    claim_samples: int = 20
    """Samples of each claim latency (and of the start request) per configuration."""
    nodes: int = 3
    """Most PostgreSQL nodes (phases 1 … nodes)."""
    max_runspaces: int = 8
    """``--max-runspaces`` of every daemon."""
    lease: str = "30s"
    """``--lease`` of the PostgreSQL nodes."""


@dataclass
class Cluster:
    """The daemons of one configuration with the bench's clients of each: ``clients`` for concurrent load,
    ``lean`` for samples taken one at a time. ``unfinished_waits`` counts ``/wait`` answers that came back
    before the task had finished (see :func:`wait_finished`)."""

    daemons: list[Daemon]
    clients: list[Client]
    lean: list[LeanClient]
    unfinished_waits: int = 0


# ---------------------------------------------------------------- the PostgreSQL server


@contextlib.contextmanager
def postgres() -> Iterator[PgServer]:
    """tests/python/pg_fixtures.py's throwaway server (one implementation for tests and bench), fsync on."""
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    from pg_fixtures import run_server

    with run_server(fsync=True) as server:
        yield server


def postmaster_pid(data_dir: Path) -> int:
    """The server's process id (first line of ``postmaster.pid``)."""
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


def server_version(dsn: str) -> str:
    """``SHOW server_version``."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


# ---------------------------------------------------------------- daemons


def sqlite_daemon(s: Settings) -> Daemon:
    """The baseline: one daemon on its own SQLite store."""
    return Daemon(max_runspaces=s.max_runspaces, store_timing=True)


def pg_node(s: Settings, dsn: str, token_file: Path) -> Daemon:
    """A node of the shared store (``--store``, ``--token-file``, ``--lease``)."""
    return Daemon(
        max_runspaces=s.max_runspaces,
        store_timing=True,
        token_file=token_file,
        extra_args=["--store", dsn, "--lease", s.lease],
    )


async def start(daemon: Daemon) -> float:
    """Launch the daemon and wait until /health answers; seconds that took."""
    daemon.launch()
    return await daemon.wait_healthy()


def node_id(daemon: Daemon) -> str:
    """The node id a PostgreSQL node keeps in its state dir ("" for a SQLite daemon)."""
    path = daemon.state_dir / "node-id"
    return path.read_text().strip() if path.exists() else ""


@contextlib.asynccontextmanager
async def clients(daemons: list[Daemon], connections: int) -> AsyncIterator[Cluster]:
    """A :class:`Cluster` of these daemons with its clients, closed afterwards."""
    cluster = Cluster(daemons, [Client(d, connections) for d in daemons], [LeanClient(d) for d in daemons])
    try:
        yield cluster
    finally:
        for c in [*cluster.clients, *cluster.lean]:
            await c.close()


# ---------------------------------------------------------------- measurements


def cpu_seconds(pid: int | None) -> float:
    """CPU seconds (user + system) of a process, its reaped children and its live descendants."""
    if pid is None:
        return 0.0
    proc = psutil.Process(pid)
    t = proc.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system
    return total


async def store_counters(cluster: Cluster) -> defaultdict[str, float]:
    """The store-timing counters summed over the nodes: ``busy_s/<role>`` (s) and ``calls/<role>``."""
    sums: defaultdict[str, float] = defaultdict(float)
    for lean in cluster.lean:
        for name, value in (await lean.metrics()).items():
            m = _SAMPLE.match(name)
            if m:
                role = dict(_LABEL.findall(m.group(2)))["role"]
                sums[("busy_s/" if m.group(1) == "busy_seconds" else "calls/") + role] += value
    return sums


async def worker_pools(cluster: Cluster) -> tuple[float, float]:
    """Worker processes started so far and starting now, summed over the nodes."""
    started = starting = 0.0
    for lean in cluster.lean:
        m = await lean.metrics()
        started += m.get("krtasks_worker_starts_total", 0.0)
        starting += m.get('krtasks_workers{state="starting"}', 0.0)
    return started, starting


async def warm_up(cluster: Cluster, s: Settings) -> int:
    """Untimed bursts of ``s.warmup`` tasks until one starts no worker process and none is starting (the
    worker pools have grown to the concurrency; a .NET start costs seconds of CPU), at most
    :data:`WARMUP_ROUNDS`; how many bursts ran."""
    for rounds in range(1, WARMUP_ROUNDS + 1):
        before, _ = await worker_pools(cluster)
        await remove(cluster, (await burst(cluster, s.warmup, s.connections)).ids, s.connections)
        deadline = time.monotonic() + 120
        while (pools := await worker_pools(cluster))[1] > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if pools[0] == before:
            return rounds
    log(f"  note: worker processes still started after {WARMUP_ROUNDS} warm-up bursts")
    return WARMUP_ROUNDS


async def run_concurrently(n: int, workers: int, fn: Callable[[int], Awaitable[None]]) -> None:
    """``fn(k)`` for k in 0 … n-1, at most ``workers`` at once."""
    it = iter(range(n))

    async def worker() -> None:
        for k in it:  # one shared iterator: each k goes to exactly one worker
            await fn(k)

    await asyncio.gather(*(worker() for _ in range(workers)))


@dataclass
class Burst:
    """One throughput measurement: tasks/s, seconds to create all (``submit_s``) and to the last answer."""

    per_s: float
    submit_s: float
    total_s: float
    ids: list[tuple[int, str]]


async def burst(cluster: Cluster, n: int, connections: int) -> Burst:
    """``n`` tasks ``1`` with AutoStart, task k on node k mod nodes, then each waited for on the node that
    created it; tasks/s from the first create to the last answer. The tasks are left for :func:`remove`."""
    created: dict[int, tuple[int, str]] = {}
    states: Counter[str] = Counter()
    nodes = len(cluster.clients)

    async def create(k: int) -> None:
        record = await cluster.clients[k % nodes].create(PS, "1", auto_start=True)
        created[k] = (k % nodes, record["Id"])

    async def wait(k: int) -> None:
        node, task_id = created[k]
        states[(await wait_finished(cluster, cluster.clients[node], task_id))["State"]] += 1

    t0 = time.perf_counter()
    await run_concurrently(n, connections, create)
    submitted = time.perf_counter() - t0
    await run_concurrently(n, connections, wait)
    elapsed = time.perf_counter() - t0
    if states != Counter({"Completed": n}):
        raise RuntimeError(f"throughput run ended with states {dict(states)}")
    ids = [created[k] for k in range(n)]
    return Burst(round(n / elapsed, 2), round(submitted, 3), round(elapsed, 3), ids)


async def remove(cluster: Cluster, ids: list[tuple[int, str]], connections: int) -> None:
    """Delete the tasks (untimed), each on the node that created it."""

    async def one(k: int) -> None:
        node, task_id = ids[k]
        await cluster.clients[node].remove(task_id)

    await run_concurrently(len(ids), connections, one)


async def throughput(cluster: Cluster, s: Settings, postmaster: int | None) -> dict[str, Any]:
    """Warm-up bursts (:func:`warm_up`), then the timed one; the store time, store work and CPU per task over
    it."""
    rounds = await warm_up(cluster, s) if s.warmup else 0
    pids = [d.pid for d in cluster.daemons]
    before = await store_counters(cluster)
    cpu0 = sum(cpu_seconds(p) for p in pids), cpu_seconds(postmaster)
    b = await burst(cluster, s.tasks, s.connections)
    after = await store_counters(cluster)
    cpu1 = sum(cpu_seconds(p) for p in pids), cpu_seconds(postmaster)
    await remove(cluster, b.ids, s.connections)
    delta = {k: v - before[k] for k, v in after.items()}
    roles = sorted({k.split("/", 1)[1] for k in after})
    ms = 1000.0 / s.tasks
    return {
        "warmup_bursts": rounds,
        "throughput_per_s": b.per_s,
        "submit_s": b.submit_s,
        "total_s": b.total_s,
        "store_ms_per_task": round(sum(delta[f"busy_s/{r}"] for r in roles) * ms, 3),
        "store_ms_per_task_by_role": {r: round(delta[f"busy_s/{r}"] * ms, 3) for r in roles},
        "store_calls_per_task_by_role": {r: round(delta[f"calls/{r}"] / s.tasks, 2) for r in roles},
        "cpu_ms_per_task": {
            "daemons_and_workers": round((cpu1[0] - cpu0[0]) * ms, 2),
            "postgresql_server": round((cpu1[1] - cpu0[1]) * ms, 2),
        },
    }


def queued_to_running_ms(conn: psycopg.Connection[Any], task_id: str) -> float:
    """``started_at - queued_at`` of the task's row, in ms."""
    row = conn.execute("SELECT queued_at, started_at FROM krtasks_tasks WHERE key = %s", (task_id.lower(),)).fetchone()
    if row is None or row[0] is None or row[1] is None:
        raise RuntimeError(f"task {task_id}: no queued_at/started_at in its row: {row}")
    queued: datetime = row[0]
    started: datetime = row[1]
    return (started - queued).total_seconds() * 1000.0


async def wait_finished(cluster: Cluster, client: ApiClient, task_id: str) -> dict[str, Any]:
    """``/wait`` for the task until its record says it finished (at most :data:`WAIT_LIMIT_S`); the record.

    A ``/wait`` answer with a task still Running or Queued (seen on PostgreSQL nodes, where a GET right after
    shows it Completed) is counted in ``cluster.unfinished_waits`` and asked again after 20 ms."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while True:
        record: dict[str, Any] = await client.wait(task_id)
        if record["State"] in FINISHED or time.monotonic() > deadline:
            return record
        cluster.unfinished_waits += 1
        await asyncio.sleep(0.02)


async def finished(cluster: Cluster, lean: LeanClient, task_id: str) -> dict[str, Any]:
    """Wait for the task; its record (it must have Completed)."""
    record = await wait_finished(cluster, lean, task_id)
    if record["State"] != "Completed":
        raise RuntimeError(f"task {task_id} ended {record['State']}: {record.get('Error')}")
    return record


async def latencies(cluster: Cluster, s: Settings, conn: psycopg.Connection[Any] | None) -> dict[str, Any]:
    """Start requests (and on PostgreSQL the claim latencies), one idle task at a time, rotating the nodes.

    Returns p50/p90 in ms, ``claimed_by`` (notify path: node index → tasks) and the samples."""
    start_ms: list[float] = []
    claim_ms: list[float] = []
    notify_ms: list[float] = []
    claimed_by: Counter[str] = Counter()
    index = {node_id(d): f"node{i + 1}" for i, d in enumerate(cluster.daemons)}
    for i in range(s.claim_samples):
        lean = cluster.lean[i % len(cluster.lean)]
        task_id = (await lean.create(PS, "1"))["Id"]
        t0 = time.perf_counter()
        await lean.start(task_id)
        start_ms.append((time.perf_counter() - t0) * 1000.0)
        await finished(cluster, lean, task_id)
        if conn is not None:
            claim_ms.append(queued_to_running_ms(conn, task_id))
        await lean.remove(task_id)
        await asyncio.sleep(IDLE_GAP_S)
    if conn is not None:
        for i in range(s.claim_samples):
            lean = cluster.lean[i % len(cluster.lean)]
            task_id = (await lean.create(PS, "1"))["Id"]
            queued = conn.execute(
                "UPDATE krtasks_tasks SET state = 'Queued', queued_at = now() WHERE key = %s AND state = 'NotStarted'",
                (task_id.lower(),),
            ).rowcount
            if queued != 1:
                raise RuntimeError(f"task {task_id}: could not queue it from outside")
            record = await finished(cluster, lean, task_id)
            claimed_by[index.get(record["Node"], str(record["Node"]))] += 1
            notify_ms.append(queued_to_running_ms(conn, task_id))
            await lean.remove(task_id)
            await asyncio.sleep(IDLE_GAP_S)
    res: dict[str, Any] = {"start_request_ms_p50": median(start_ms), "start_request_ms_p90": p90(start_ms)}
    samples: dict[str, list[float]] = {"start_request_ms": [round(x, 3) for x in start_ms]}
    if conn is not None:
        res |= {
            "claim_latency_ms_p50": median(claim_ms),
            "claim_latency_ms_p90": p90(claim_ms),
            "claim_latency_notify_ms_p50": median(notify_ms),
            "claim_latency_notify_ms_p90": p90(notify_ms),
            "claimed_by": dict(sorted(claimed_by.items())),
        }
        samples |= {"claim_latency_ms": [round(x, 3) for x in claim_ms]}
        samples |= {"claim_latency_notify_ms": [round(x, 3) for x in notify_ms]}
    res["samples"] = samples
    return res


async def measure(cluster: Cluster, s: Settings, conn: psycopg.Connection[Any] | None, postmaster: int | None) -> Any:
    """Throughput (with store time and CPU), then the latencies on the idle nodes."""
    await asyncio.sleep(SETTLE_S)
    log(f"  throughput: warm-up bursts of {s.warmup}, then {s.tasks} tasks over {s.connections} connections")
    res = await throughput(cluster, s, postmaster)
    log(f"  {res['throughput_per_s']} tasks/s; store {res['store_ms_per_task']} ms/task")
    await asyncio.sleep(1.0)  # idle again: workers back, the queue empty
    log(f"  latencies: {s.claim_samples} samples" + (" per path" if conn is not None else ""))
    res |= await latencies(cluster, s, conn)
    res["unfinished_wait_answers"] = cluster.unfinished_waits
    if cluster.unfinished_waits:
        log(f"  note: /wait answered {cluster.unfinished_waits} time(s) before the task had finished")
    return res


# ---------------------------------------------------------------- the run


async def run(s: Settings, server: PgServer, results: dict[str, Any]) -> None:
    """The SQLite daemon, then 1 … ``s.nodes`` PostgreSQL nodes on one database; fills ``results``."""
    work = Path(tempfile.mkdtemp(prefix="krtasks-cluster-bench-"))
    up: list[Daemon] = []
    ok = False
    try:
        log("SQLite: one daemon (the baseline)")
        baseline = sqlite_daemon(s)
        up.append(baseline)
        await start(baseline)
        async with clients([baseline], s.connections) as cluster:
            results["sqlite"] = await measure(cluster, s, None, None)
        baseline.stop()
        up.remove(baseline)

        dsn = server.new_database()
        results["machine"]["postgresql"] = server_version(dsn)
        postmaster = postmaster_pid(server.data_dir)
        results["postgresql"] = {}
        with psycopg.connect(dsn, autocommit=True) as conn:
            for n in range(1, s.nodes + 1):
                log(f"PostgreSQL: {n} node{'s' if n > 1 else ''}")
                node = pg_node(s, dsn, work / "token")
                up.append(node)
                await start(node)
                async with clients(list(up), s.connections) as cluster:
                    results["postgresql"][str(n)] = await measure(cluster, s, conn, postmaster)
        ok = True
    finally:
        for d in up:
            d.stop(keep_log=not ok)
            if not ok:
                log(f"daemon log kept: {d.log_path}")
        shutil.rmtree(work, ignore_errors=True)


def summarize(results: dict[str, Any], s: Settings) -> None:
    """The headline keys, at the top level of ``results``."""
    sq = results["sqlite"]
    pg = results["postgresql"]
    one, most = pg["1"], pg[str(s.nodes)]
    results["sqlite_throughput_per_s"] = sq["throughput_per_s"]
    for n, r in pg.items():
        results[f"pg_throughput_per_s_{n}node"] = r["throughput_per_s"]
    overhead = round(sq["throughput_per_s"] / one["throughput_per_s"], 3)
    results["pg_overhead_vs_sqlite_1node"] = overhead
    results["pg_overhead_target"] = OVERHEAD_TARGET
    results["pg_overhead_met"] = overhead <= OVERHEAD_TARGET
    results["claim_latency_ms_p50"] = one["claim_latency_ms_p50"]
    results["claim_latency_ms_p90"] = one["claim_latency_ms_p90"]
    results["claim_latency_notify_ms_p50"] = most["claim_latency_notify_ms_p50"]
    results["claim_latency_notify_ms_p90"] = most["claim_latency_notify_ms_p90"]
    results["sqlite_store_ms_per_task"] = sq["store_ms_per_task"]
    results["pg_store_ms_per_task_1node"] = one["store_ms_per_task"]
    results["pg_extra_store_ms_per_task_1node"] = round(one["store_ms_per_task"] - sq["store_ms_per_task"], 3)
    results["unfinished_wait_answers"] = sq["unfinished_wait_answers"] + sum(
        r["unfinished_wait_answers"] for r in pg.values()
    )


# ---------------------------------------------------------------- output


def _ms(r: dict[str, Any], key: str) -> str:
    if f"{key}_p50" not in r:
        return "—"
    return f"{r[f'{key}_p50']:g} / {r[f'{key}_p90']:g}"


def markdown(results: dict[str, Any]) -> str:
    """The results as the Markdown table of docs/store.md."""
    base = results["sqlite"]["throughput_per_s"]
    head = [
        "store",
        "tasks/s",
        "SQLite ÷ this",
        "store ms/task",
        "store work/task",
        "CPU ms/task (daemons / server)",
        "start request ms p50 / p90",
        "claim ms p50 / p90",
        "claim via NOTIFY ms p50 / p90",
    ]
    rows = []
    configs = [("SQLite, 1 daemon", results["sqlite"])]
    configs += [(f"PostgreSQL, {n} node{'s' if n != '1' else ''}", r) for n, r in results["postgresql"].items()]
    for name, r in configs:
        cpu = r["cpu_ms_per_task"]
        work = ", ".join(f"{role} {v:g}" for role, v in r["store_calls_per_task_by_role"].items())
        rows.append(
            [
                name,
                f"{r['throughput_per_s']:g}",
                f"{base / r['throughput_per_s']:.2f}",
                f"{r['store_ms_per_task']:g}",
                work,
                f"{cpu['daemons_and_workers']:g} / {cpu['postgresql_server']:g}",
                _ms(r, "start_request_ms"),
                _ms(r, "claim_latency_ms"),
                _ms(r, "claim_latency_notify_ms"),
            ]
        )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    m = results["machine"]
    lines += [
        "",
        f"`pg_overhead_vs_sqlite_1node` = {results['pg_overhead_vs_sqlite_1node']:g} (target ≤ "
        f"{results['pg_overhead_target']:g}: {'met' if results['pg_overhead_met'] else 'not met'}); "
        f"`pg_extra_store_ms_per_task_1node` = {results['pg_extra_store_ms_per_task_1node']:g} ms.",
        f"{results['started_at']}, {m['cores_logical']} cores, PostgreSQL {m.get('postgresql', '?')}, "
        f"{results['settings']['tasks']} tasks over {results['settings']['connections']} connections; "
        f"load average {m['load_average_at_start']} at start, {m['load_average_at_end']} at the end.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the configurations, write the results file, print the table."""
    d = Settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=d.tasks, help="tasks per throughput run (%(default)s)")
    parser.add_argument("--warmup", type=int, default=d.warmup, help="untimed tasks before each (%(default)s)")
    parser.add_argument("--connections", type=int, default=d.connections, help="requests in flight (%(default)s)")
    parser.add_argument(
        "--claim-samples", type=int, default=d.claim_samples, help="latency samples per path (%(default)s)"
    )
    parser.add_argument("--nodes", type=int, default=d.nodes, help="most PostgreSQL nodes (%(default)s)")
    parser.add_argument("--max-runspaces", type=int, default=d.max_runspaces, help="per daemon (%(default)s)")
    parser.add_argument("--lease", default=d.lease, help="--lease of the nodes (%(default)s)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the results JSON goes")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print a results file as Markdown and exit")
    args = parser.parse_args(argv)
    if args.render:
        print(markdown(json.loads(args.render.read_text())))
        return 0
    s = Settings(
        tasks=args.tasks,
        warmup=args.warmup,
        connections=args.connections,
        claim_samples=args.claim_samples,
        nodes=args.nodes,
        max_runspaces=args.max_runspaces,
        lease=args.lease,
    )
    if min(s.tasks, s.connections, s.claim_samples, s.nodes, s.max_runspaces) < 1 or s.warmup < 0:
        parser.error("counts must be at least 1 (--warmup at least 0)")
    started = datetime.now(UTC)
    wall0 = time.perf_counter()
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "settings": asdict(s),
        "machine": machine_info(),
    }
    if results["machine"]["load_average_at_start"][0] > 1.0:
        log(f"note: load average {results['machine']['load_average_at_start']}: the figures will be noisy")
    with postgres() as server:
        asyncio.run(run(s, server, results))
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    summarize(results, s)
    results["wall_s"] = round(time.perf_counter() - wall0, 1)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"cluster-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(markdown(results))
    print()
    print(f"Wall time {results['wall_s']} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
