"""Worker processes (issue 11), against a real daemon in process isolation with real PowerShell and Roslyn:
hostile code ends only its own task, a stop always stops, each task gets its memory limit, directory and
environment, and workers never outlive the daemon."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from daemon_fixtures import Daemon, start_daemon, wait_until_finished

GRACE = 1.0
BYSTANDER = "Start-Sleep -Seconds 5; 'alive'"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(
        tmp_path_factory.mktemp("isolation"), "--max-runspaces", "4", "--stop-grace", str(GRACE), "--min-workers", "2"
    )
    yield d
    d.close()


@pytest.fixture(scope="module")
def api(daemon: Daemon) -> requests.Session:
    return daemon.session()


def create(api: requests.Session, daemon: Daemon, **body: Any) -> dict[str, Any]:
    r = api.post(f"{daemon.url}/api/v1/tasks", json=body, timeout=60)
    assert r.status_code == 201, r.text
    record: dict[str, Any] = r.json()
    return record


def finished(api: requests.Session, daemon: Daemon, task_id: str, timeout: float = 60) -> dict[str, Any]:
    return wait_until_finished(api, daemon.url, task_id, timeout=timeout)


def result(api: requests.Session, daemon: Daemon, task_id: str) -> dict[str, Any]:
    r = api.get(f"{daemon.url}/api/v1/tasks/{task_id}/result", timeout=10)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def workers(daemon: Daemon) -> list[psutil.Process]:
    """The daemon's worker processes (its children running the worker module)."""
    found = []
    for child in psutil.Process(daemon.proc.pid).children():
        try:
            if "krtasks.engines.process.worker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def wait_for(predicate: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.05)


def health(api: requests.Session, daemon: Daemon) -> dict[str, Any]:
    r = api.get(f"{daemon.url}/api/v1/health", timeout=10)
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize(
    ("language", "code", "expect"),
    [
        ("CSharp", "System.Environment.Exit(3); return 1;", "exited with code 3"),
        ("CSharp", "int F(int n) => F(n + 1) + 1; return F(0);", "SIGABRT"),
        ("PowerShell", "[Environment]::FailFast('x marks the spot')", "SIGABRT"),
    ],
    ids=["environment-exit", "stack-overflow", "fail-fast"],
)
def test_a_crash_fails_only_its_own_task(
    api: requests.Session, daemon: Daemon, language: str, code: str, expect: str
) -> None:
    bystander = create(api, daemon, Code=BYSTANDER, AutoStart=True)
    hostile = create(api, daemon, Language=language, Code=code, AutoStart=True)
    done = finished(api, daemon, hostile["Id"])
    assert done["State"] == "Failed", done
    assert done["Error"]["Type"] == "WorkerCrashed" and expect in done["Error"]["Message"], done["Error"]
    if "FailFast" in code:
        assert "x marks the spot" in done["Error"]["Message"]  # the worker's last stderr lines are quoted
    if "F(n + 1)" in code:
        assert "Stack overflow" in done["Error"]["Message"]
    assert health(api, daemon)["Status"] == "Healthy"
    alive = finished(api, daemon, bystander["Id"])
    assert alive["State"] == "Completed" and result(api, daemon, bystander["Id"])["Output"] == ["alive"]
    # The pool replaced the dead worker: the next task runs.
    after = create(api, daemon, Code="'next'", AutoStart=True)
    assert finished(api, daemon, after["Id"])["State"] == "Completed"


def _cpu(procs: list[psutil.Process], seconds: float = 0.5) -> float:
    """CPU use of ``procs`` over ``seconds`` (percent of one core, summed; gone processes count 0)."""
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(seconds)
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.cpu_percent(None)
    return total


def no_worker_starting(api: requests.Session, daemon: Daemon) -> Callable[[], bool]:
    """A condition: the daemon's pool has no worker process starting (its metrics say so)."""
    return lambda: 'krtasks_workers{state="starting"} 0.0' in api.get(f"{daemon.url}/metrics", timeout=10).text


def _tree(pid: int) -> list[psutil.Process]:
    return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]


def test_a_cancelled_busy_loop_really_stops(api: requests.Session, daemon: Daemon) -> None:
    bystander = create(api, daemon, Code=BYSTANDER, AutoStart=True)
    spin = create(api, daemon, Language="CSharp", Code="while (true) { }", AutoStart=True)
    wait_for(lambda: api.get(f"{daemon.url}/api/v1/tasks/{spin['Id']}", timeout=10).json()["State"] == "Running")
    # The two busy workers made the pool start idle ones; measured with them while they load .NET, the tree
    # was once still at 24 % CPU 2 s after the stop (a clean-clone run). Let them get ready first.
    wait_for(no_worker_starting(api, daemon), what="no worker starting")
    time.sleep(0.5)
    before = _tree(daemon.proc.pid)
    asked = time.monotonic()
    assert api.post(f"{daemon.url}/api/v1/tasks/{spin['Id']}/cancel", timeout=10).status_code == 202
    done = finished(api, daemon, spin["Id"])
    took = time.monotonic() - asked
    assert done["State"] == "Stopped" and done["Error"] is None and took < GRACE + 1, (done, took)
    assert "stopped by force" in done["Progress"]["StatusMessage"]
    notes = [
        r["Message"] for r in api.get(f"{daemon.url}/api/v1/tasks/{spin['Id']}/streams", timeout=10).json()["Records"]
    ]
    assert not any("may still be running" in n for n in notes) and any("worker process was killed" in n for n in notes)
    # Nothing keeps a core busy afterwards (thread isolation measured 50-95 % here for as long as it lived):
    # within 2 s, the daemon and the workers that were there are quiet, the loop's worker is gone. The pool's
    # replacement starts (a few seconds of .NET loading each) are new processes; once the pool is ready again,
    # the whole tree is quiet too.
    time.sleep(max(0.0, 2.0 - (time.monotonic() - asked - took)))
    cpu = min(_cpu(before) for _ in range(3))
    assert cpu < 10, f"the daemon and its old workers still use {cpu:.0f} % CPU"
    assert finished(api, daemon, bystander["Id"])["State"] == "Completed"
    wait_for(no_worker_starting(api, daemon), what="no worker starting")
    cpu = min(_cpu(_tree(daemon.proc.pid)) for _ in range(3))
    assert cpu < 10, f"the daemon's process tree still uses {cpu:.0f} % CPU"


def test_an_uninterruptible_powershell_call_is_stopped(api: requests.Session, daemon: Daemon) -> None:
    rec = create(
        api, daemon, Code="$TaskProgress.StatusMessage = 'in'; [Threading.Thread]::Sleep(60000); 'late'", AutoStart=True
    )
    wait_for(
        lambda: (
            api.get(f"{daemon.url}/api/v1/tasks/{rec['Id']}", timeout=10).json()["Progress"]["StatusMessage"] == "in"
        )
    )
    asked = time.monotonic()
    api.post(f"{daemon.url}/api/v1/tasks/{rec['Id']}/cancel", timeout=10)
    done = finished(api, daemon, rec["Id"])
    assert done["State"] == "Stopped" and time.monotonic() - asked < GRACE + 1
    assert result(api, daemon, rec["Id"])["Output"] is None


def test_timeout_kills_code_that_ignores_it(api: requests.Session, daemon: Daemon) -> None:
    done = finished(
        api,
        daemon,
        create(api, daemon, Language="CSharp", Code="while (true) { }", TimeoutSeconds=0.5, AutoStart=True)["Id"],
    )
    assert done["State"] == "Failed" and done["Error"]["Type"] == "TimeoutException"
    assert "killed" in done["Error"]["Message"]


def test_memory_limit_kills_the_worker(api: requests.Session, daemon: Daemon) -> None:
    bystander = create(api, daemon, Code=BYSTANDER, AutoStart=True)
    hog = create(
        api,
        daemon,
        MaxMemoryMB=300,
        AutoStart=True,
        Code="$chunks = [System.Collections.Generic.List[byte[]]]::new(); "
        "1..2048 | ForEach-Object { $b = [byte[]]::new(1MB); [Array]::Fill($b, [byte]1); $chunks.Add($b) }; "
        "'survived'",
    )
    done = finished(api, daemon, hog["Id"])
    assert done["State"] == "Failed" and done["Error"]["Type"] == "MemoryLimitExceeded", done
    assert "MaxMemoryMB of 300 MB" in done["Error"]["Message"]
    assert finished(api, daemon, bystander["Id"])["State"] == "Completed"
    assert health(api, daemon)["Status"] == "Healthy"


def test_a_worker_killed_from_outside_fails_its_task(api: requests.Session, daemon: Daemon) -> None:
    # The task says which process runs it ($PID), and that process is killed from outside.
    rec = create(api, daemon, Code='$TaskProgress.StatusMessage = "pid $PID"; Start-Sleep -Seconds 30', AutoStart=True)

    def status() -> str:
        text: str = api.get(f"{daemon.url}/api/v1/tasks/{rec['Id']}", timeout=10).json()["Progress"]["StatusMessage"]
        return text

    wait_for(lambda: status().startswith("pid "))
    pid = int(status().split()[1])
    assert pid in {w.pid for w in workers(daemon)} and pid != daemon.proc.pid
    os.kill(pid, signal.SIGKILL)
    done = finished(api, daemon, rec["Id"])
    assert done["State"] == "Failed" and done["Error"]["Type"] == "WorkerCrashed"
    assert "SIGKILL" in done["Error"]["Message"]
    after = create(api, daemon, Code="'still here'", AutoStart=True)
    assert finished(api, daemon, after["Id"])["State"] == "Completed"


def test_workers_inherit_no_listening_socket_and_no_token(api: requests.Session, daemon: Daemon) -> None:
    assert daemon.token is not None
    for w in workers(daemon):
        assert not [c for c in w.net_connections(kind="inet")], "a worker holds an inet socket"
        assert all(daemon.token not in value for value in w.environ().values())
    rec = create(api, daemon, Code="(Get-ChildItem env: | ForEach-Object Value) -join ';'", AutoStart=True)
    finished(api, daemon, rec["Id"])
    assert daemon.token not in str(result(api, daemon, rec["Id"])["Output"])


def test_health_and_record_show_the_isolation(api: requests.Session, daemon: Daemon) -> None:
    assert health(api, daemon)["Isolation"] == "process"
    rec = create(api, daemon, Code="1")
    assert rec["Isolation"] == "process"
    text = api.get(f"{daemon.url}/metrics", timeout=10).text
    for name in (
        'krtasks_workers{state="idle"}',
        "krtasks_worker_starts_total",
        "krtasks_worker_crashes_total",
        "krtasks_worker_kills_total",
        "krtasks_worker_recycles_total",
    ):
        assert name in text, name


# ---------------------------------------------------------------------------------------- one worker


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One slot, one worker: consecutive tasks run in the same worker process."""
    d = start_daemon(
        tmp_path_factory.mktemp("single"), "--max-runspaces", "1", "--min-workers", "1", "--stop-grace", str(GRACE)
    )
    yield d
    d.close()


def test_directory_and_environment_are_per_task(single: Daemon, tmp_path: Path) -> None:
    api = single.session()
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    first = create(
        api,
        single,
        Code="\"$PWD|$env:KRT_X|$([Environment]::CurrentDirectory)\"; $env:KRT_LEAK = 'leaked'; Set-Location /",
        AutoStart=True,
        WorkingDirectory=str(workdir),
        Environment={"KRT_X": "from the task"},
    )
    assert finished(api, single, first["Id"])["State"] == "Completed"
    assert result(api, single, first["Id"])["Output"] == [f"{workdir}|from the task|{workdir}"]
    cs = create(
        api,
        single,
        Language="CSharp",
        AutoStart=True,
        WorkingDirectory=str(workdir),
        Environment={"KRT_Y": "for C#"},
        Code='Environment.SetEnvironmentVariable("KRT_LEAK2", "leaked"); '
        'return Environment.CurrentDirectory + "|" + Environment.GetEnvironmentVariable("KRT_Y");',
    )
    assert finished(api, single, cs["Id"])["State"] == "Completed"
    assert result(api, single, cs["Id"])["Output"] == f"{workdir}|for C#"
    # The next tasks, on the same worker, see none of it.
    ps = create(
        api, single, AutoStart=True, Code='"$([bool]$env:KRT_X)|$([bool]$env:KRT_LEAK)|$([bool]$env:KRT_LEAK2)|$PWD"'
    )
    finished(api, single, ps["Id"])
    assert result(api, single, ps["Id"])["Output"] == [f"False|False|False|{os.getcwd()}"]
    assert len(workers(single)) == 1


def test_working_directory_must_exist(single: Daemon, tmp_path: Path) -> None:
    api = single.session()
    r = api.post(
        f"{single.url}/api/v1/tasks", json={"Code": "1", "WorkingDirectory": str(tmp_path / "nope")}, timeout=10
    )
    assert r.status_code == 422 and r.json()["field"] == "WorkingDirectory"


def test_thread_isolation_refuses_process_only_fields(tmp_path: Path) -> None:
    d = start_daemon(tmp_path, "--isolation", "thread")
    try:
        api = d.session()
        assert health(api, d)["Isolation"] == "thread"
        for body in ({"MaxMemoryMB": 300}, {"WorkingDirectory": str(tmp_path)}, {"Environment": {"A": "1"}}):
            r = api.post(f"{d.url}/api/v1/tasks", json={"Code": "1", **body}, timeout=10)
            assert r.status_code == 422, r.text  # well-formed, but this daemon cannot honour it
            assert r.json()["field"] == next(iter(body)) and "process isolation" in r.json()["detail"]
        assert not workers(d)
    finally:
        d.close()


def test_kill_9_of_the_daemon_leaves_no_worker(tmp_path: Path) -> None:
    d = start_daemon(tmp_path, "--min-workers", "2")
    try:
        api = d.session()
        rec = create(api, d, Code="Start-Sleep -Seconds 60", AutoStart=True)
        wait_for(lambda: api.get(f"{d.url}/api/v1/tasks/{rec['Id']}", timeout=10).json()["State"] == "Running")
        wait_for(lambda: len(workers(d)) >= 2, what="two workers")
        pids = [w.pid for w in workers(d)]
        d.proc.kill()
        d.proc.wait(timeout=10)
        wait_for(
            lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids),
            timeout=10,
            what="workers gone",
        )
    finally:
        d.close()


def test_a_garbled_message_kills_only_that_worker(api: requests.Session, daemon: Daemon) -> None:
    # Task code writes a line that is not the protocol into its worker's socket (its fd is on the command line;
    # .NET hosted by Python has no GetCommandLineArgs, so /proc tells).
    code = (
        "$a = [IO.File]::ReadAllText('/proc/self/cmdline').Split([char]0); "
        "$fd = [int]$a[[array]::IndexOf($a, '--fd') + 1]; "
        "$s = [System.Net.Sockets.Socket]::new([System.Net.Sockets.SafeSocketHandle]::new([IntPtr]$fd, $false)); "
        '[void]$s.Send([Text.Encoding]::UTF8.GetBytes("this is not json`n")); Start-Sleep -Seconds 30'
    )
    bystander = create(api, daemon, Code=BYSTANDER, AutoStart=True)
    done = finished(api, daemon, create(api, daemon, Code=code, AutoStart=True)["Id"])
    assert done["State"] == "Failed" and done["Error"]["Type"] == "WorkerProtocolError", done
    assert "not JSON" in done["Error"]["Message"]
    assert finished(api, daemon, bystander["Id"])["State"] == "Completed"
    assert health(api, daemon)["Status"] == "Healthy"


def test_an_idle_worker_that_dies_is_replaced(api: requests.Session, daemon: Daemon) -> None:
    wait_for(lambda: len(workers(daemon)) >= 2, what="two idle workers")
    victim = workers(daemon)[0]
    victim.kill()
    wait_for(
        lambda: victim.pid not in {w.pid for w in workers(daemon)} and len(workers(daemon)) >= 2,
        what="a replacement worker",
    )
    rec = create(api, daemon, Code="'fine'", AutoStart=True)
    assert finished(api, daemon, rec["Id"])["State"] == "Completed"
    assert f"idle worker {victim.pid}" in daemon.stderr() and "replacing it" in daemon.stderr()


async def test_workers_are_recycled_after_max_tasks() -> None:
    from krtasks.core.service import TaskService
    from krtasks.models import ServiceConfig, TaskSpec

    service = TaskService(ServiceConfig(max_runspaces=1, min_workers=1, worker_max_tasks=2))
    await service.open()
    try:
        pids = []
        for _ in range(5):
            rec = await service.create(TaskSpec(code="$PID", auto_start=True))
            await service.wait(rec["Id"], 60)
            pids.append(service.result(rec["Id"])["Output"][0])
        assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4], pids
        text = service.metrics.registry.get_sample_value("krtasks_worker_recycles_total")
        assert text is not None and text >= 2
    finally:
        await service.close()
