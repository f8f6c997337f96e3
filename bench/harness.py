"""A `krtasks serve` child process on loopback, and an HTTPS client for its REST API (issue 7 benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json as jsonlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
READY_TIMEOUT_S = 120.0
"""Longest wait for a daemon to answer /health (a first start generates the certificate and loads .NET)."""


def free_port() -> int:
    """A loopback port that was free a moment ago (the daemon binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_command() -> list[str]:
    """`krtasks` through bench/serve_wrapper.py (SIGUSR1 stack dumps, optional profile), with this Python."""
    return [sys.executable, str(Path(__file__).resolve().parent / "serve_wrapper.py")]


class Daemon:
    """One `krtasks serve --max-runspaces N --isolation I --stop-grace G` on a fresh temporary state dir;
    stop() removes the dir.

    ``profile_html``: run it under pyinstrument and write the event loop's profile there on stop (HTML, or
    text when the name ends in .txt). ``store_timing``: count the time spent in the task store at /metrics
    (bench/store_timing.py). ``token_file``: ``--token-file`` (nodes of a shared store share it);
    ``extra_args``: more ``krtasks serve`` options (e.g. ``--store postgresql://…``). Launched through
    serve_wrapper.py, like ``krtasks serve``.
    """

    def __init__(
        self,
        max_runspaces: int = 8,
        profile_html: Path | None = None,
        isolation: str = "process",
        stop_grace: float = 1.0,
        *,
        store_timing: bool = False,
        token_file: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.max_runspaces = max_runspaces
        self.isolation = isolation
        self.stop_grace = stop_grace
        self.profile_html = profile_html
        self.store_timing = store_timing
        self.token_file = token_file
        self.extra_args = list(extra_args)
        self.state_dir = Path(tempfile.mkdtemp(prefix="krtasks-bench-"))
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}.log"
        self.launched_at = 0.0

    @property
    def pid(self) -> int:
        """The daemon's process id (the Python process that hosts .NET)."""
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        """Start the process (returns at once; see :meth:`wait_healthy`)."""
        cmd = [*serve_command()]
        if self.profile_html is not None:
            cmd += ["--profile", str(self.profile_html)]
        if self.store_timing:
            cmd += ["--store-timing"]
        cmd += [
            "serve",
            "--port",
            str(self.port),
            "--state-dir",
            str(self.state_dir),
            "--max-runspaces",
            str(self.max_runspaces),
            "--isolation",
            self.isolation,
            "--stop-grace",
            f"{self.stop_grace:g}",
            "--log-level",
            "warning",
        ]
        if self.token_file is not None:
            cmd += ["--token-file", str(self.token_file)]
        cmd += self.extra_args
        env = dict(os.environ)
        env.pop("KRTASKS_STATE_DIR", None)
        with open(self.log_path, "wb") as log:
            self.launched_at = time.perf_counter()
            # Own session: a Ctrl-C of the bench reaches us first, and stop() ends the daemon cleanly.
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
                start_new_session=True,
            )

    async def wait_healthy(self) -> float:
        """Poll /api/v1/health until it answers 200; return seconds since launch."""
        deadline = time.perf_counter() + READY_TIMEOUT_S
        # No certificate check here: the certificate is created by this very start.
        connector = aiohttp.TCPConnector(ssl=False, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            while True:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"krtasks serve exited with {self.proc.returncode}; see {self.log_path}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(self.base + API + "/health") as resp:
                        if resp.status == 200:
                            return time.perf_counter() - self.launched_at
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"krtasks serve did not answer in {READY_TIMEOUT_S:g} s; see {self.log_path}")
                await asyncio.sleep(0.01)

    def token(self) -> str:
        """The bearer token the daemon wrote into its state dir (or its ``--token-file``)."""
        path = self.token_file if self.token_file is not None else self.state_dir / "token"
        return path.read_text(encoding="ascii").strip()

    def ssl_context(self) -> ssl.SSLContext:
        """Trust exactly the daemon's own certificate (hostname 127.0.0.1 checked)."""
        return ssl.create_default_context(cafile=str(self.state_dir / "cert.pem"))

    def dump_stacks(self) -> None:
        """Ask the daemon to write every Python thread's stack into its log (SIGUSR1, see serve_wrapper.py)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1)

    def stop(self, timeout: float = 30.0, keep_log: bool = False) -> None:
        """SIGTERM (graceful), SIGKILL after ``timeout``; then delete the state dir (and the log, unless
        ``keep_log``)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        if not keep_log:
            with contextlib.suppress(OSError):
                self.log_path.unlink()


class ApiClient:
    """The REST API calls the benchmarks make; subclasses supply the transport (:meth:`_call`)."""

    async def _call(
        self, method: str, path: str, expect: int, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        """Release the connection(s)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def create(self, language: str, code: str, auto_start: bool = False, **fields: Any) -> dict[str, Any]:
        """POST /tasks → the record (201); ``fields`` are more body fields (e.g. ``ReuseRunspace=True``)."""
        body = {"Language": language, "Code": code, "AutoStart": auto_start, **fields}
        record: dict[str, Any] = await self._call("POST", "/tasks", 201, json=body)
        return record

    async def oneshot(self, language: str, code: str, wait_s: float = 120, **fields: Any) -> dict[str, Any]:
        """POST /tasks with Wait: one call → the record with Output once finished (201)."""
        body = {"Language": language, "Code": code, "Wait": wait_s, **fields}
        record: dict[str, Any] = await self._call("POST", "/tasks", 201, json=body)
        return record

    async def start(self, task_id: str) -> None:
        """POST /tasks/{id}/start (202)."""
        await self._call("POST", f"/tasks/{task_id}/start", 202)

    async def get(self, task_id: str) -> dict[str, Any]:
        """GET /tasks/{id} → the record."""
        record: dict[str, Any] = await self._call("GET", f"/tasks/{task_id}", 200)
        return record

    async def wait(self, task_id: str, timeout_s: float = 120) -> dict[str, Any]:
        """GET /tasks/{id}/wait?Timeout=s → the record once finished (or when the timeout passed)."""
        record: dict[str, Any] = await self._call(
            "GET", f"/tasks/{task_id}/wait", 200, params={"Timeout": f"{timeout_s:g}"}
        )
        return record

    async def result(self, task_id: str) -> dict[str, Any]:
        """GET /tasks/{id}/result → {Id, State, Output, Error}."""
        result: dict[str, Any] = await self._call("GET", f"/tasks/{task_id}/result", 200)
        return result

    async def cancel(self, task_id: str) -> None:
        """POST /tasks/{id}/cancel (202)."""
        await self._call("POST", f"/tasks/{task_id}/cancel", 202)

    async def remove(self, task_id: str) -> None:
        """DELETE /tasks/{id} (204)."""
        await self._call("DELETE", f"/tasks/{task_id}", 204)

    async def roundtrip(self, language: str, code: str) -> dict[str, Any]:
        """Create, start, wait until finished, read the result: the four calls a client makes."""
        record = await self.create(language, code)
        await self.start(record["Id"])
        await self.wait(record["Id"])
        return await self.result(record["Id"])


class Client(ApiClient):
    """aiohttp: ``connections`` kept-alive HTTPS connections at most, for concurrent load."""

    def __init__(self, daemon: Daemon, connections: int = 1) -> None:
        connector = aiohttp.TCPConnector(ssl=daemon.ssl_context(), limit=connections, keepalive_timeout=60)
        self._session = aiohttp.ClientSession(
            base_url=daemon.base,
            connector=connector,
            headers={"Authorization": f"Bearer {daemon.token()}"},
            timeout=aiohttp.ClientTimeout(total=300),
        )

    async def close(self) -> None:
        """Close the session and its connections."""
        await self._session.close()

    async def _call(
        self, method: str, path: str, expect: int, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        async with self._session.request(method, API + path, json=json, params=params) as resp:
            if resp.status != expect:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {await resp.text()}")
            return None if resp.status == 204 else await resp.json()


class LeanClient(ApiClient):
    """One kept-alive ``http.client`` HTTPS connection, for sequential latency samples.

    Each call blocks the event loop until its response arrives, on purpose: the samples are taken one at
    a time, and the client's own loop scheduling (~0.3 ms a request with aiohttp here) is not the daemon's
    latency. A .NET HttpClient (the PowerShell module) is closer to this than to aiohttp.
    """

    def __init__(self, daemon: Daemon, timeout_s: float = 300) -> None:
        self._conn = http.client.HTTPSConnection(
            "127.0.0.1", daemon.port, context=daemon.ssl_context(), timeout=timeout_s
        )
        self._headers = {"Authorization": f"Bearer {daemon.token()}", "Content-Type": "application/json"}

    async def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    async def _call(
        self, method: str, path: str, expect: int, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        url = API + path + ("?" + urllib.parse.urlencode(params) if params else "")
        body = None if json is None else jsonlib.dumps(json)
        self._conn.request(method, url, body=body, headers=self._headers)
        resp = self._conn.getresponse()
        data = resp.read()
        if resp.status != expect:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {data!r}")
        return jsonlib.loads(data) if data else None

    async def metrics(self) -> dict[str, float]:
        """GET /metrics: every sample without labels, by name (Prometheus text format)."""
        self._conn.request("GET", "/metrics", headers=self._headers)
        resp = self._conn.getresponse()
        text = resp.read().decode()
        if resp.status != 200:
            raise RuntimeError(f"GET /metrics: HTTP {resp.status}: {text[:200]}")
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values
