"""Starting the real ``krtasks`` daemon for tests: a process on a free port with its own state dir.

Tests talk HTTPS to it with ``requests``, verifying TLS against the generated ``cert.pem`` (never
``verify=False``). stdout and stderr go to files (a full pipe would block the daemon); the ready line
is read from the stdout file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from krtasks.models import Language, Progress, TaskData, TaskState
from krtasks.store import SqliteTaskStore, open_store

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(r"^KrTasks listening on (https://\S+) \(state dir (.+)\)$")
START_TIMEOUT = 90.0


def krtasks_exe() -> str:
    """The ``krtasks`` script of the running interpreter's environment (the repo's .venv)."""
    candidate = Path(sys.executable).parent / "krtasks"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("krtasks")
    if found is None:
        raise RuntimeError("the krtasks command is not installed (pip install -e '.[test]')")
    return found


def run_cli(*args: str, timeout: float = 60.0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``krtasks <args>`` to completion and capture its output."""
    return subprocess.run(
        [krtasks_exe(), *args], capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
    )


@dataclass
class Daemon:
    """A running daemon: its process, URL, state dir, certificate and (with token auth) token."""

    proc: subprocess.Popen[bytes]
    url: str
    state_dir: Path
    stdout_path: Path
    stderr_path: Path
    token: str | None
    sessions: list[requests.Session] = field(default_factory=list)

    @property
    def cert(self) -> Path:
        return self.state_dir / "cert.pem"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def session(self, *, auth: bool = True) -> requests.Session:
        """A session that trusts exactly this daemon's certificate and sends the token (when ``auth``)."""
        s = requests.Session()
        # trust_env off: REQUESTS_CA_BUNDLE would override a session's verify (and proxies have no business here).
        s.trust_env = False
        s.verify = str(self.cert)
        if auth and self.token is not None:
            s.headers["Authorization"] = f"Bearer {self.token}"
        self.sessions.append(s)
        return s

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def daemon_json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state_dir / "daemon.json").read_text())
        return data

    def signal(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``signum`` and wait for the exit; return the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        """Stop the daemon if it still runs (SIGTERM, then SIGKILL after 30 s) and close the sessions."""
        for s in self.sessions:
            s.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_daemon(
    work_dir: Path,
    *args: str,
    command: str = "serve",
    state_dir: Path | None = None,
    port: int = 0,
    timeout: float = START_TIMEOUT,
) -> Daemon:
    """Start ``krtasks <command> --port <port> --state-dir <work_dir>/state <args>`` and wait for its ready line.

    Raises:
        RuntimeError: the process exited or printed nothing ready within ``timeout`` seconds (stderr attached).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    state_dir = state_dir or work_dir / "state"
    stdout_path = work_dir / f"{command}-{time.monotonic_ns()}.out"
    stderr_path = stdout_path.with_suffix(".err")
    cmd = [krtasks_exe(), command, "--port", str(port), "--state-dir", str(state_dir), *args]
    env = dict(os.environ)
    env.pop("KRTASKS_STATE_DIR", None)
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = stdout_path.read_text(errors="replace").splitlines()
        match = READY.match(lines[0]) if lines else None
        if match:
            no_auth = command == "demo" or ("--auth" in args and args[args.index("--auth") + 1] == "none")
            token_file = Path(args[args.index("--token-file") + 1]) if "--token-file" in args else state_dir / "token"
            token = None if no_auth else token_file.read_text().strip()
            return Daemon(proc, match.group(1), Path(match.group(2)), stdout_path, stderr_path, token)
        if proc.poll() is not None:
            raise RuntimeError(f"krtasks {command} exited with {proc.returncode}:\n{stderr_path.read_text()}")
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"krtasks {command} printed no ready line in {timeout} s:\n{stderr_path.read_text()}")


def wait_until_finished(session: requests.Session, base: str, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Long-poll ``/api/v1/tasks/{id}/wait`` until the task is finished; return its record."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(0.1, deadline - time.monotonic())
        r = session.get(f"{base}/api/v1/tasks/{task_id}/wait", params={"Timeout": min(left, 10)}, timeout=left + 10)
        r.raise_for_status()
        record: dict[str, Any] = r.json()
        if record["State"] in ("Completed", "Failed", "Stopped"):
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} still {record['State']} after {timeout} s")


def sse_events(response: requests.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse a text/event-stream response into ``(event, data)`` pairs (data as JSON), as they arrive."""
    event, data = "message", list[str]()
    for raw in response.iter_lines(decode_unicode=True):
        line = raw if isinstance(raw, str) else raw.decode()
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def fill_finished(state_dir: Path, count: int, prefix: str = "bulk-") -> list[str]:
    """Write ``count`` Completed PowerShell tasks named ``<prefix>0000``... straight into the state dir's store
    (before a daemon starts there), created one second apart up to now; return their ids, oldest first."""
    now = datetime.now(UTC)
    tasks = []
    for i in range(count):
        created = now - timedelta(seconds=count - i)
        tasks.append(
            TaskData(
                id=f"{prefix}{i:04d}-id",
                seq=i + 1,
                name=f"{prefix}{i:04d}",
                description="",
                language=Language.POWERSHELL,
                code=f"'item {i}'",
                arguments={},
                timeout_seconds=None,
                parent_id="",
                extra_imports=[],
                extra_refs=[],
                created_at=created,
                state=TaskState.COMPLETED,
                started_at=created,
                completed_at=created + timedelta(milliseconds=5 + i % 50),
                progress=Progress(100, "Completed"),
                output=[f"item {i}"],
            )
        )
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = open_store(state_dir)
    try:
        # A thread of its own: the caller may run inside an event loop (Playwright's sync API keeps one running).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _put(store, tasks)).result()
    finally:
        store.close_sync()
    return [t.id for t in tasks]


async def _put(store: SqliteTaskStore, tasks: list[TaskData]) -> None:
    await store.put(tasks)
