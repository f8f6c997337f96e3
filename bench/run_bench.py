"""KrTasks benchmarks against PowerShell's own job engines, side by side in one run (issue 7).

Run through ``dotnet pwsh ./build.ps1 -Task Bench`` (which builds first and passes ``--pwsh``), or directly:

    .venv/bin/python bench/run_bench.py --pwsh "dotnet pwsh"

Every KrTasks number goes through the REST API over HTTPS (loopback, kept-alive connections) against a
fresh ``krtasks serve --max-runspaces 8`` on a temporary state dir; the baselines run in a child pwsh
(bench/baselines.ps1). Results go to bench/results/<UTC timestamp>.json; a table of medians, ratios and
targets goes to stdout. Targets are reported, never failed on. ``--render FILE`` prints a results file as
the Markdown table used in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from harness import ROOT, ApiClient, Client, Daemon, LeanClient

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PS, CS = "PowerShell", "CSharp"
CS_CODE = "return 40 + 2;"
PS_SLEEP = "Start-Sleep -Seconds 60"
CS_DELAY = "await Task.Delay(60000, CancellationToken);"
COUNT_ASSEMBLIES = "return AppDomain.CurrentDomain.GetAssemblies().Length;"
COUNT_ASSEMBLIES_AFTER_GC = (
    "for (var i = 0; i < 3; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }\n" + COUNT_ASSEMBLIES
)
"""Assemblies loaded in the daemon: each compiled script is one, and should go once unloaded and collected."""
COLD_START_TIMEOUT_S = 60.0
"""Longest wait for one request to a freshly started daemon; a daemon that hangs counts as a failed start."""
MAIN_DAEMON_ATTEMPTS = 3
RUNNING_TIMEOUT_S = 30.0
"""Longest wait for a task to reach Running before a cancel sample (the loop is bounded in time)."""


@dataclass
class Settings:
    """Sample counts; the defaults are the issue's (≥ 30 samples, 1 000 tasks, concurrency 8)."""

    samples: int = 60
    warmup: int = 10
    startjob_samples: int = 5
    tasks: int = 1000
    concurrency: int = 8
    throughput_runs: int = 3
    distinct_scripts: int = 1000
    distinct_concurrency: int = 4
    cancel_samples: int = 5
    cold_starts: int = 3

    @classmethod
    def quick(cls) -> Settings:
        """A smoke run (about a minute): too few samples for numbers worth citing."""
        return cls(
            samples=10,
            warmup=3,
            startjob_samples=2,
            tasks=100,
            throughput_runs=1,
            distinct_scripts=50,
            cancel_samples=2,
            cold_starts=1,
        )


@dataclass(frozen=True)
class Target:
    """A target from the issue: ``key`` compared with ``op`` against a number or another key times a factor."""

    key: str
    op: str
    text: str
    limit: float | None = None
    other: str | None = None
    factor: float = 1.0
    mode: str = "process"
    """The isolation mode whose figure the target is for."""

    def bound(self, results: dict[str, Any]) -> float | None:
        """The number to compare with (None when the baseline is missing)."""
        if self.other is None:
            return self.limit
        base = results.get(self.other)
        return None if base is None else base * self.factor

    def met(self, results: dict[str, Any]) -> bool | None:
        """True/False for the figure of the target's mode, or None when either side is missing."""
        value, bound = results.get(self.mode, {}).get(self.key), self.bound(results)
        if value is None or bound is None:
            return None
        return bool(value < bound if self.op == "<" else value <= bound if self.op == "<=" else value >= bound)


TARGETS = [
    Target("ps_roundtrip_ms_p50", "<", "< ThreadJob's", other="threadjob_roundtrip_ms_p50"),
    Target("ps_roundtrip_vs_startjob", ">=", "≥ 20x faster than Start-Job", limit=20.0),
    Target("ps_throughput_per_s", ">=", "≥ 2x ThreadJob's", other="threadjob_throughput_per_s", factor=2.0),
    Target("cs_cached_roundtrip_ms_p50", "<=", "≤ 5 ms", limit=5.0),
    Target("cs_distinct_1000_rss_growth_mb", "<=", "≤ 150 MB", limit=150.0),
    Target("cancel_ps_ms", "<=", "≤ 500 ms", limit=500.0),
    Target("cancel_cs_ms", "<=", "≤ 500 ms", limit=500.0),
    Target("cold_start_ms", "<=", "≤ 5 000 ms", limit=5000.0),
    Target("worker_idle_rss_mb", "<=", "≤ 200 MB", limit=200.0),
    Target(
        "ps_oneshot_roundtrip_ms_p50",
        "<=",
        "≥ 5x faster than ThreadJob",
        other="threadjob_roundtrip_ms_p50",
        factor=0.2,
    ),
    Target("cs_oneshot_roundtrip_ms_p50", "<=", "≤ 4 ms", limit=4.0),
    Target("cs_oneshot_roundtrip_ms_p50", "<=", "≤ 3 ms (thread)", limit=3.0, mode="thread"),
    Target(
        "ps_throughput_per_s_reuse",
        ">=",
        "≥ 0.5x ForEach -Parallel (thread)",
        other="foreach_parallel_throughput_per_s",
        factor=0.5,
        mode="thread",
    ),
]
"""The issues' targets, for process isolation (the default) unless one says ``mode="thread"``; the other mode is
reported beside them."""

MODES = ("process", "thread")


def log(message: str) -> None:
    """Progress on stderr, so stdout keeps only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ms_since(t0: float) -> float:
    """Milliseconds since ``t0`` (a perf_counter value)."""
    return (time.perf_counter() - t0) * 1000.0


def median(values: list[float]) -> float:
    """The median, rounded for the results file."""
    return round(statistics.median(values), 2)


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank)."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2)


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB."""
    return psutil.Process(pid).memory_info().rss / 2**20


def worker_pids(pid: int) -> list[int]:
    """The worker processes of the daemon ``pid``."""
    found = []
    for child in psutil.Process(pid).children():
        with contextlib.suppress(psutil.Error):
            if "krtasks.engines.process.worker" in " ".join(child.cmdline()):
                found.append(child.pid)
    return found


def tree_rss_mb(pid: int) -> float:
    """RSS of the daemon and its workers (MiB): what the machine pays for KrTasks."""
    total = rss_mb(pid)
    for w in worker_pids(pid):
        with contextlib.suppress(psutil.Error):
            total += rss_mb(w)
    return total


# ---------------------------------------------------------------- machine


def _run_text(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Cores, memory, OS and the versions that shape the numbers."""
    runtimes = [
        line.split(" [")[0]
        for line in _run_text(["dotnet", "--list-runtimes"]).splitlines()
        if line.startswith("Microsoft.NETCore.App")
    ]
    from krtasks import __version__ as krtasks_version

    commit = _run_text(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = bool(_run_text(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]))
    return {
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "dotnet_sdk": _run_text(["dotnet", "--version"]),
        "dotnet_runtimes": runtimes,
        "krtasks": krtasks_version,
        "git_commit": commit + ("-dirty" if dirty else ""),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ---------------------------------------------------------------- PowerShell baselines


def run_pwsh_script(pwsh: list[str], script: str, **parameters: str | int) -> dict[str, Any]:
    """Run ``bench/<script>`` in a child pwsh with ``-Name value`` parameters; return the one line of JSON
    it prints last.

    Raises:
        RuntimeError: the script failed (its output in the message).
    """
    cmd = [*pwsh, "-NoProfile", "-NonInteractive", "-File", str(Path(__file__).resolve().parent / script)]
    for name, value in parameters.items():
        cmd += [f"-{name}", str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def run_baselines(pwsh: list[str], s: Settings) -> dict[str, Any]:
    """Run bench/baselines.ps1 in a child pwsh; return its JSON (sample lists and throughputs)."""
    return run_pwsh_script(
        pwsh,
        "baselines.ps1",
        RoundtripSamples=s.samples,
        StartJobSamples=s.startjob_samples,
        Tasks=s.tasks,
        ThrottleLimit=s.concurrency,
        Repeats=s.throughput_runs,
    )


def run_invoke_throughput(pwsh: list[str], daemon: Daemon, s: Settings) -> list[float]:
    """Run bench/invoke_throughput.ps1 in a child pwsh against ``daemon``: ``1..tasks | Invoke-KrTask { 1 }
    -ThrottleLimit <concurrency>``, ``throughput_runs`` times; the throughputs (tasks/s)."""
    data = run_pwsh_script(
        pwsh,
        "invoke_throughput.ps1",
        ModulePath=str(Path(__file__).resolve().parent.parent / "module" / "KrTasks.psd1"),
        Uri=daemon.base,
        StateDir=str(daemon.state_dir),
        Tasks=s.tasks,
        ThrottleLimit=s.concurrency,
        Repeats=s.throughput_runs,
    )
    runs: list[float] = data["invoke_krtask_throughput"]
    return runs


# ---------------------------------------------------------------- KrTasks through the REST API


async def sample(n: int, fn: Callable[[], Awaitable[float]]) -> list[float]:
    """``n`` sequential samples of ``fn`` (each returns its own milliseconds)."""
    return [await fn() for _ in range(n)]


async def timed_roundtrip(client: ApiClient, language: str, code: str, expect: Any) -> float:
    """One create/start/wait/result round trip in ms; the task is removed afterwards, untimed."""
    t0 = time.perf_counter()
    result = await client.roundtrip(language, code)
    elapsed = ms_since(t0)
    if result["State"] != "Completed" or result["Output"] != expect:
        raise RuntimeError(f"unexpected result: {result}")
    await client.remove(result["Id"])
    return elapsed


async def timed_oneshot(client: ApiClient, language: str, code: str, expect: Any, **fields: Any) -> float:
    """One call (POST with Wait) until the record with Output is back, in ms; removed afterwards, untimed."""
    t0 = time.perf_counter()
    record = await client.oneshot(language, code, **fields)
    elapsed = ms_since(t0)
    if record["State"] != "Completed" or record["Output"] != expect:
        raise RuntimeError(f"unexpected one-call result: {record}")
    await client.remove(record["Id"])
    return elapsed


async def timed_autostart(client: ApiClient, language: str, code: str) -> float:
    """Create with AutoStart, wait, read the result (three calls instead of four), in ms."""
    t0 = time.perf_counter()
    record = await client.create(language, code, auto_start=True)
    await client.wait(record["Id"])
    result = await client.result(record["Id"])
    elapsed = ms_since(t0)
    if result["State"] != "Completed":
        raise RuntimeError(f"unexpected result: {result}")
    await client.remove(record["Id"])
    return elapsed


async def cold_start(daemon: Daemon) -> dict[str, float]:
    """Launch ``daemon``; ms until /health answers and until a first PowerShell task has completed."""
    daemon.launch()
    health_s = await daemon.wait_healthy()
    async with LeanClient(daemon, timeout_s=COLD_START_TIMEOUT_S) as client:
        result = await client.roundtrip(PS, "1")
    total = (time.perf_counter() - daemon.launched_at) * 1000.0
    if result["State"] != "Completed":
        raise RuntimeError(f"first task after start: {result}")
    return {"health_ms": round(health_s * 1000.0, 1), "first_task_ms": round(total, 1)}


async def try_cold_start(daemon: Daemon, failures: list[dict[str, str]]) -> dict[str, float] | None:
    """:func:`cold_start`, or None after a failure: then the daemon's thread stacks go into its log, which
    is kept (path in ``failures``), and the daemon is stopped."""
    try:
        return await cold_start(daemon)
    except Exception as exc:  # a daemon that hangs or dies must not end the whole run
        daemon.dump_stacks()
        daemon.stop(keep_log=True)
        log(f"cold start FAILED: {exc!r}; daemon log with thread stacks: {daemon.log_path}")
        failures.append({"error": repr(exc), "log": str(daemon.log_path)})
        return None


async def run_concurrently(items: list[Any], workers: int, fn: Callable[[Any], Awaitable[None]]) -> None:
    """Apply ``fn`` to every item with at most ``workers`` in flight."""
    it = iter(items)

    async def worker() -> None:
        for item in it:  # one shared iterator: each item goes to exactly one worker
            await fn(item)

    await asyncio.gather(*(worker() for _ in range(workers)))


async def throughput(client: Client, n: int, concurrency: int, **fields: Any) -> dict[str, float]:
    """``n`` PowerShell tasks ``1`` submitted with AutoStart (and ``fields``) over ``concurrency`` connections,
    then waited for; tasks per second from the first submit to the last end. Removal afterwards is untimed."""
    ids: list[str] = []

    async def submit(_: int) -> None:
        ids.append((await client.create(PS, "1", auto_start=True, **fields))["Id"])

    states: Counter[str] = Counter()

    async def wait(task_id: str) -> None:
        states[(await client.wait(task_id))["State"]] += 1

    t0 = time.perf_counter()
    await run_concurrently(list(range(n)), concurrency, submit)
    submitted = time.perf_counter() - t0
    await run_concurrently(list(ids), concurrency, wait)
    elapsed = time.perf_counter() - t0
    if states != Counter({"Completed": n}):
        raise RuntimeError(f"throughput run ended with states {dict(states)}")
    await run_concurrently(ids, concurrency, client.remove)
    return {"per_s": round(n / elapsed, 2), "submit_s": round(submitted, 3), "total_s": round(elapsed, 3)}


async def wait_running(client: ApiClient, task_id: str) -> None:
    """Poll until the task is Running (bounded by RUNNING_TIMEOUT_S)."""
    deadline = time.monotonic() + RUNNING_TIMEOUT_S
    while (await client.get(task_id))["State"] != "Running":
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} did not reach Running in {RUNNING_TIMEOUT_S:g} s")
        await asyncio.sleep(0.01)


async def timed_cancel(client: ApiClient, language: str, code: str) -> float:
    """ms from POST cancel of a running 60 s task until its wait answers Stopped."""
    record = await client.create(language, code, auto_start=True)
    await wait_running(client, record["Id"])
    await asyncio.sleep(0.3)  # let the code reach its sleep/delay, so the cancel interrupts real waiting
    t0 = time.perf_counter()
    await client.cancel(record["Id"])
    done = await client.wait(record["Id"], 30)
    elapsed = ms_since(t0)
    if done["State"] != "Stopped":
        raise RuntimeError(f"cancelled task ended {done['State']}: {done}")
    await client.remove(record["Id"])
    return elapsed


async def timed_hard_stop(client: ApiClient) -> float:
    """ms from POST cancel of C# ``while (true) { }`` (which ignores it) until its wait answers Stopped: the
    grace period, then the kill (process isolation) or the abandon (thread isolation)."""
    record = await client.create(CS, "while (true) { }", auto_start=True)
    await wait_running(client, record["Id"])
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    await client.cancel(record["Id"])
    done = await client.wait(record["Id"], 30)
    elapsed = ms_since(t0)
    if done["State"] != "Stopped":
        raise RuntimeError(f"hard stop ended {done['State']}: {done}")
    await client.remove(record["Id"])
    return elapsed


async def timed_crash_recovery(client: ApiClient) -> float:
    """ms from creating a C# task that calls ``Environment.Exit(3)`` until the next PowerShell task has
    completed (process isolation: the crash fails its task, the pool replaces the worker)."""
    t0 = time.perf_counter()
    crash = await client.create(CS, "System.Environment.Exit(3); return 1;", auto_start=True)
    failed = await client.wait(crash["Id"])
    if failed["State"] != "Failed" or failed["Error"]["Type"] != "WorkerCrashed":
        raise RuntimeError(f"crash task: {failed}")
    result = await client.roundtrip(PS, "1")
    elapsed = ms_since(t0)
    if result["State"] != "Completed":
        raise RuntimeError(f"task after the crash: {result}")
    await client.remove(crash["Id"])
    await client.remove(result["Id"])
    return elapsed


def distinct_script(i: int) -> str:
    """A small, realistic C# script that differs from every other i (so each one is compiled)."""
    return f"var xs = Enumerable.Range(0, {i % 50 + 1}).Select(x => x * {i}).ToList();\nreturn xs.Sum() + {i};"


async def distinct_rss(client: Client, daemon: Daemon, n: int, concurrency: int) -> dict[str, float]:
    """Daemon RSS before and after creating, running and removing ``n`` distinct C# scripts."""
    assemblies_before = (await client.roundtrip(CS, COUNT_ASSEMBLIES))["Output"]
    await asyncio.sleep(2)  # let the refill of runspaces and the GC settle before the first reading
    before = tree_rss_mb(daemon.pid)
    peak = before

    async def one(i: int) -> None:
        nonlocal peak
        result = await client.roundtrip(CS, distinct_script(i))
        if result["State"] != "Completed":
            raise RuntimeError(f"distinct script {i}: {result}")
        await client.remove(result["Id"])
        if i % 50 == 0:
            peak = max(peak, tree_rss_mb(daemon.pid))

    t0 = time.perf_counter()
    await run_concurrently(list(range(n)), concurrency, one)
    elapsed = time.perf_counter() - t0
    await asyncio.sleep(3)
    after = tree_rss_mb(daemon.pid)
    # After the reading, since it forces a full GC: scripts that were unloaded must be gone by then.
    assemblies_after = (await client.roundtrip(CS, COUNT_ASSEMBLIES_AFTER_GC))["Output"]
    return {
        "before_mb": round(before, 1),
        "after_mb": round(after, 1),
        "peak_mb": round(max(peak, after), 1),
        "growth_mb": round(after - before, 1),
        "scripts_per_s": round(n / elapsed, 1),
        "assemblies_before": assemblies_before,
        "assemblies_after_gc": assemblies_after,
    }


async def bench_krtasks(
    s: Settings, profile: Path | None, isolation: str, pwsh: list[str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything measured on one fresh daemon in ``isolation``, then the extra cold starts; Invoke-KrTask's
    throughput through ``pwsh`` (None: not measured). Returns (results, samples)."""
    res: dict[str, Any] = {}
    smp: dict[str, Any] = {}
    failures: list[dict[str, str]] = []
    starts: list[dict[str, float]] = []
    for _ in range(MAIN_DAEMON_ATTEMPTS):
        daemon = Daemon(max_runspaces=8, profile_html=profile, isolation=isolation)
        log("cold start (fresh state dir: certificate, token, .NET, PowerShell, Roslyn)")
        cold = await try_cold_start(daemon, failures)
        if cold is not None:
            starts.append(cold)
            break
    else:
        raise RuntimeError(f"no daemon came up in {MAIN_DAEMON_ATTEMPTS} attempts: {failures}")
    try:
        await asyncio.sleep(3)  # the first workers and the Roslyn warm-up settle
        res["rss_after_start_mb"] = round(rss_mb(daemon.pid), 1)
        res["tree_rss_after_start_mb"] = round(tree_rss_mb(daemon.pid), 1)
        if isolation == "process":
            res["worker_idle_rss_mb"] = median([rss_mb(w) for w in worker_pids(daemon.pid)])
        async with LeanClient(daemon) as client:
            if isolation == "process":
                m = await client.metrics()
                started = m.get("krtasks_worker_start_seconds_count", 0.0)
                res["worker_start_ms"] = (
                    round(m["krtasks_worker_start_seconds_sum"] / started * 1000, 1) if started else None
                )
            log("first C# task, then the same code cached")
            t0 = time.perf_counter()
            first = await client.create(CS, CS_CODE)
            res["cs_first_create_ms"] = round(ms_since(t0), 1)
            await client.start(first["Id"])
            await client.wait(first["Id"])
            if (await client.result(first["Id"]))["Output"] != 42:
                raise RuntimeError("first C# task: wrong output")
            res["cs_first_compile_ms"] = round(ms_since(t0), 1)
            await client.remove(first["Id"])
            await sample(s.warmup, lambda: timed_roundtrip(client, CS, CS_CODE, 42))
            smp["cs_cached_roundtrip_ms"] = await sample(s.samples, lambda: timed_roundtrip(client, CS, CS_CODE, 42))
            smp["cs_cached_autostart_ms"] = await sample(s.samples, lambda: timed_autostart(client, CS, CS_CODE))
            smp["cs_oneshot_roundtrip_ms"] = await sample(s.samples, lambda: timed_oneshot(client, CS, CS_CODE, 42))

            log("PowerShell round trips")
            await sample(s.warmup, lambda: timed_roundtrip(client, PS, "1", [1]))
            smp["ps_roundtrip_ms"] = await sample(s.samples, lambda: timed_roundtrip(client, PS, "1", [1]))
            smp["ps_roundtrip_autostart_ms"] = await sample(s.samples, lambda: timed_autostart(client, PS, "1"))
            smp["ps_oneshot_roundtrip_ms"] = await sample(s.samples, lambda: timed_oneshot(client, PS, "1", [1]))
            await sample(s.warmup, lambda: timed_oneshot(client, PS, "1", [1], ReuseRunspace=True))
            smp["ps_oneshot_reuse_ms"] = await sample(
                s.samples, lambda: timed_oneshot(client, PS, "1", [1], ReuseRunspace=True)
            )

            log("cancels")
            smp["cancel_ps_ms"] = await sample(s.cancel_samples, lambda: timed_cancel(client, PS, PS_SLEEP))
            smp["cancel_cs_ms"] = await sample(s.cancel_samples, lambda: timed_cancel(client, CS, CS_DELAY))
            if isolation == "process":
                log("hard stops and crash recovery")
                smp["hard_stop_ms"] = await sample(s.cancel_samples, lambda: timed_hard_stop(client))
                smp["crash_recovery_ms"] = await sample(s.cancel_samples, lambda: timed_crash_recovery(client))

        async with Client(daemon) as aclient:
            # The same round trips through aiohttp's client: how much a heavier client adds.
            log("round trips again through aiohttp's client")
            await sample(s.warmup, lambda: timed_roundtrip(aclient, PS, "1", [1]))
            smp["ps_roundtrip_aiohttp_ms"] = await sample(s.samples, lambda: timed_roundtrip(aclient, PS, "1", [1]))
            smp["cs_cached_roundtrip_aiohttp_ms"] = await sample(
                s.samples, lambda: timed_roundtrip(aclient, CS, CS_CODE, 42)
            )

        # After the latency samples: 1 000 compiles leave background work (JIT, GC) for seconds.
        async with Client(daemon, connections=s.distinct_concurrency) as aclient:
            log(f"C# memory: {s.distinct_scripts} distinct scripts")
            rss = await distinct_rss(aclient, daemon, s.distinct_scripts, s.distinct_concurrency)
            res["cs_distinct_rss"] = rss
            res["cs_distinct_1000_rss_growth_mb"] = rss["growth_mb"]
            res["cs_distinct_assemblies_growth"] = rss["assemblies_after_gc"] - rss["assemblies_before"]

        async with Client(daemon, connections=s.concurrency) as client:
            log(f"throughput: warm-up burst, then {s.throughput_runs} x {s.tasks} tasks")
            await throughput(client, max(s.concurrency, s.tasks // 5), s.concurrency)
            runs = []
            for _ in range(s.throughput_runs):
                await asyncio.sleep(1)  # the runspace pool refills between runs, as between bursts in real use
                runs.append(await throughput(client, s.tasks, s.concurrency))
                log(f"  {runs[-1]}")
            smp["ps_throughput"] = runs
            res["ps_throughput_per_s"] = median([r["per_s"] for r in runs])
            log(f"throughput with runspace reuse: {s.throughput_runs} x {s.tasks} tasks")
            await throughput(client, max(s.concurrency, s.tasks // 5), s.concurrency, ReuseRunspace=True)
            reuse_runs = []
            for _ in range(s.throughput_runs):
                await asyncio.sleep(1)
                reuse_runs.append(await throughput(client, s.tasks, s.concurrency, ReuseRunspace=True))
                log(f"  {reuse_runs[-1]}")
            smp["ps_throughput_reuse"] = reuse_runs
            res["ps_throughput_per_s_reuse"] = median([r["per_s"] for r in reuse_runs])
            res["rss_after_throughput_mb"] = round(rss_mb(daemon.pid), 1)
            res["tree_rss_after_throughput_mb"] = round(tree_rss_mb(daemon.pid), 1)
        if pwsh is not None:
            log(f"Invoke-KrTask: {s.throughput_runs} x {s.tasks} x {{ 1 }}, -ThrottleLimit {s.concurrency}")
            invoke_runs = await asyncio.to_thread(run_invoke_throughput, pwsh, daemon, s)
            smp["invoke_krtask_throughput"] = [round(x, 2) for x in invoke_runs]
            res["invoke_krtask_throughput_per_s"] = median(invoke_runs)
        if isolation == "thread":
            # Last: in thread isolation the abandoned loop keeps a core busy for as long as the daemon lives.
            async with LeanClient(daemon) as client:
                log("hard stop (the loop is abandoned and keeps running)")
                smp["hard_stop_ms"] = [await timed_hard_stop(client)]
    finally:
        daemon.stop()

    for _ in range(s.cold_starts - 1):
        log("another cold start")
        extra = Daemon(max_runspaces=8, isolation=isolation)
        sample_ = await try_cold_start(extra, failures)
        if sample_ is not None:
            starts.append(sample_)
            extra.stop()
    smp["cold_start"] = starts
    smp["cold_start_failures"] = failures
    res["cold_start_failures"] = len(failures)
    res["cold_start_ms"] = median([x["first_task_ms"] for x in starts])
    res["cold_start_health_ms"] = median([x["health_ms"] for x in starts])

    for key in (
        "cs_cached_roundtrip_ms",
        "cs_cached_autostart_ms",
        "cs_oneshot_roundtrip_ms",
        "ps_oneshot_roundtrip_ms",
        "ps_oneshot_reuse_ms",
        "ps_roundtrip_ms",
        "ps_roundtrip_autostart_ms",
        "ps_roundtrip_aiohttp_ms",
        "cs_cached_roundtrip_aiohttp_ms",
    ):
        res[f"{key}_p50"] = median(smp[key])
        res[f"{key}_p90"] = p90(smp[key])
    res["cancel_ps_ms"] = median(smp["cancel_ps_ms"])
    res["cancel_cs_ms"] = median(smp["cancel_cs_ms"])
    res["hard_stop_ms"] = median(smp["hard_stop_ms"])
    if "crash_recovery_ms" in smp:
        res["crash_recovery_ms"] = median(smp["crash_recovery_ms"])
    return res, smp


# ---------------------------------------------------------------- report

ROWS: list[tuple[str, str, str | None, str]] = [
    # (label, KrTasks key, baseline key, unit); indented rows are variants without a target of their own
    ("Round trip, PowerShell `1` (p50)", "ps_roundtrip_ms_p50", "threadjob_roundtrip_ms_p50", "ms"),
    ("  vs Start-Job", "ps_roundtrip_ms_p50", "startjob_roundtrip_ms_p50", "ms"),
    ("  AutoStart: 3 calls", "ps_roundtrip_autostart_ms_p50", "threadjob_roundtrip_ms_p50", "ms"),
    ("  through aiohttp's client", "ps_roundtrip_aiohttp_ms_p50", "threadjob_roundtrip_ms_p50", "ms"),
    ("One call (Wait), PowerShell `1` (p50)", "ps_oneshot_roundtrip_ms_p50", "threadjob_roundtrip_ms_p50", "ms"),
    ("  with ReuseRunspace", "ps_oneshot_reuse_ms_p50", "threadjob_roundtrip_ms_p50", "ms"),
    ("Throughput, 1 000 x `1`, concurrency 8", "ps_throughput_per_s", "threadjob_throughput_per_s", "/s"),
    ("  vs ForEach-Object -Parallel", "ps_throughput_per_s", "foreach_parallel_throughput_per_s", "/s"),
    ("Throughput with ReuseRunspace", "ps_throughput_per_s_reuse", "foreach_parallel_throughput_per_s", "/s"),
    ("  vs ThreadJob", "ps_throughput_per_s_reuse", "threadjob_throughput_per_s", "/s"),
    (
        "Invoke-KrTask, 1 000 x `{ 1 }`, -ThrottleLimit 8",
        "invoke_krtask_throughput_per_s",
        "foreach_parallel_throughput_per_s",
        "/s",
    ),
    ("  vs ThreadJob", "invoke_krtask_throughput_per_s", "threadjob_throughput_per_s", "/s"),
    ("C# first task after start", "cs_first_compile_ms", None, "ms"),
    ("C# cached round trip (p50)", "cs_cached_roundtrip_ms_p50", None, "ms"),
    ("  AutoStart: 3 calls", "cs_cached_autostart_ms_p50", None, "ms"),
    ("  through aiohttp's client", "cs_cached_roundtrip_aiohttp_ms_p50", None, "ms"),
    ("C# one call (Wait), cached (p50)", "cs_oneshot_roundtrip_ms_p50", None, "ms"),
    ("RSS growth, 1 000 distinct C# scripts", "cs_distinct_1000_rss_growth_mb", None, "MB"),
    ("  assemblies still loaded after them", "cs_distinct_assemblies_growth", None, ""),
    ("Cancel PowerShell `Start-Sleep 60`", "cancel_ps_ms", None, "ms"),
    ("Cancel C# `Task.Delay(60000, ct)`", "cancel_cs_ms", None, "ms"),
    ("Hard stop: cancel `while (true) { }`, grace 1 s", "hard_stop_ms", None, "ms"),
    ("Crash recovery: `Environment.Exit` to next task done", "crash_recovery_ms", None, "ms"),
    ("One idle worker's RSS", "worker_idle_rss_mb", None, "MB"),
    ("Worker start (spawn to ready)", "worker_start_ms", None, "ms"),
    ("RSS after start (daemon + workers)", "tree_rss_after_start_mb", None, "MB"),
    ("Cold start (health + first task)", "cold_start_ms", None, "ms"),
    ("  until /health answers", "cold_start_health_ms", None, "ms"),
    ("  failed starts (no answer in 60 s)", "cold_start_failures", None, ""),
]

BASELINE_NAMES = {
    "threadjob_roundtrip_ms_p50": "Start-ThreadJob",
    "startjob_roundtrip_ms_p50": "Start-Job",
    "threadjob_throughput_per_s": "Start-ThreadJob",
    "foreach_parallel_throughput_per_s": "ForEach -Parallel",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _ratio(value: Any, base: Any, unit: str) -> str:
    if not value or not base:
        return "—"
    better = base / value if unit == "ms" else value / base
    return f"{better:.2f}x faster" if better >= 1 else f"{1 / better:.2f}x slower"


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    """Rows of [metric, process, thread, baseline, ratio process, ratio thread, targets, met]; a metric with
    targets in both modes lists both (``;``-separated)."""
    rows = []
    for label, key, base_key, unit in ROWS:
        values = [results.get(mode, {}).get(key) for mode in MODES]
        base = results.get(base_key) if base_key else None
        targets = [] if label.startswith("  ") else [t for t in TARGETS if t.key == key]
        status = ["n/a" if met is None else "met" if met else "MISSED" for met in (t.met(results) for t in targets)]
        rows.append(
            [
                label,
                *(f"{_fmt(v)} {unit}".rstrip() for v in values),
                f"{_fmt(base)} {unit} ({BASELINE_NAMES[base_key]})" if base_key else "",
                *((_ratio(v, base, unit) if base_key else "") for v in values),
                "; ".join(t.text for t in targets),
                "; ".join(status),
            ]
        )
    return rows


HEADER = ["Metric", "Process", "Thread", "Baseline", "Ratio (process)", "Ratio (thread)", "Target", "Status"]


def print_table(results: dict[str, Any]) -> None:
    """A plain-text table for the terminal."""
    rows = [HEADER, *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def markdown(results: dict[str, Any]) -> str:
    """The table and the machine as Markdown (for docs/benchmarks.md)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    # Markdown drops leading spaces, so variant rows get a visible marker instead.
    lines += [
        "| " + " | ".join([("↳ " + row[0][2:]) if row[0].startswith("  ") else row[0], *row[1:]]) + " |"
        for row in table_rows(results)
    ]
    m = results.get("machine", {})
    lines += [
        "",
        f"Machine: {m.get('cores_logical')} logical cores ({m.get('cpu_model')}), "
        f"{m.get('memory_gib')} GiB, {m.get('os')}; Python {m.get('python')}, .NET SDK {m.get('dotnet_sdk')} "
        f"({', '.join(m.get('dotnet_runtimes', []))}), PowerShell {m.get('powershell')}, "
        f"KrTasks {m.get('krtasks')} at {m.get('git_commit')}; load average at start "
        f"{m.get('load_average_at_start')}, at end {m.get('load_average_at_end')}.",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run baselines and KrTasks, write the results file, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pwsh", default="dotnet pwsh", help="command that runs pwsh for the baselines (default: %(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke test, not numbers to cite")
    parser.add_argument("--skip-baselines", action="store_true", help="only KrTasks (no ratios)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="HTML",
        help="run the measured daemon under pyinstrument and write its event-loop profile here",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help="where the results JSON goes")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print a results file as Markdown and exit")
    args = parser.parse_args(argv)
    if args.render:
        print(markdown(json.loads(args.render.read_text())))
        return 0

    s = Settings.quick() if args.quick else Settings()
    started = datetime.now(UTC)
    wall0 = time.perf_counter()
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "settings": s.__dict__,
        "machine": machine_info(),
    }
    samples: dict[str, Any] = {}
    if results["machine"]["load_average_at_start"][0] > 1.0:
        log(
            f"note: load average {results['machine']['load_average_at_start']} — other work on this machine "
            "will skew the numbers"
        )

    if not args.skip_baselines:
        log("PowerShell baselines (Start-ThreadJob, Start-Job, ForEach-Object -Parallel)")
        base = run_baselines(shlex.split(args.pwsh), s)
        results["machine"]["powershell"] = base["powershell_version"]
        results["machine"]["threadjob_module"] = base["threadjob_module_version"]
        for key in ("threadjob_roundtrip_ms", "startjob_roundtrip_ms"):
            samples[key] = [round(x, 3) for x in base[key]]
            results[f"{key}_p50"] = median(base[key])
        for key in ("threadjob_throughput", "foreach_parallel_throughput"):
            samples[key] = [round(x, 2) for x in base[key]]
            results[f"{key}_per_s"] = median(base[key])

    for mode in MODES:
        log(f"--- {mode} isolation")
        profile = args.profile if mode == "process" else None
        kr, kr_samples = asyncio.run(bench_krtasks(s, profile, mode, shlex.split(args.pwsh)))
        startjob = results.get("startjob_roundtrip_ms_p50")
        if startjob:
            kr["ps_roundtrip_vs_startjob"] = round(startjob / kr["ps_roundtrip_ms_p50"], 1)
        results[mode] = kr
        samples[mode] = kr_samples
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = {
        f"{t.key}@{t.mode}": {
            "target": t.text,
            "bound": t.bound(results),
            "value": results[t.mode].get(t.key),
            "met": t.met(results),
        }
        for t in TARGETS
    }
    results["wall_s"] = round(time.perf_counter() - wall0, 1)
    results["samples"] = samples

    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print_table(results)
    print()
    print(f"Wall time {results['wall_s']} s; results in {out}")
    if args.profile:
        print(f"Daemon event-loop profile: {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
