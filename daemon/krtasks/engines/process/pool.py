"""The worker pool: the daemon's worker processes, started ahead of demand, reused, recycled and replaced.

Workers are children of the daemon (they die with it, see :mod:`krtasks.engines.process.worker`), each in
a process group of its own so that a hard stop also ends what the task started. They inherit no listening
socket and no descriptor but their end of a socket pair; their stdout and stderr go to a pipe the daemon
reads, keeping the last lines for crash reports. ``min_workers`` idle workers are kept ready (as long as
fewer than ``max_workers`` exist); a worker is recycled after ``max_tasks`` runs or when its resident memory
after a task passes ``max_memory_mb``; one that dies or misbehaves is replaced.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import orjson
import psutil

from ..base import OutputLimits
from .protocol import (
    MAX_MESSAGE_BYTES,
    Failed,
    Heartbeat,
    Hello,
    OutcomeMessage,
    ProtocolError,
    Step,
    decode_from_worker,
    encode,
)

log = logging.getLogger("krtasks.workers")

START_TIMEOUT_SECONDS = 60.0
"""Longest a worker may take from spawn to its ``hello``."""

STDERR_LINES = 20
"""Lines of a worker's output kept for crash reports (stack frames left out)."""

CRASH_LINES = 4
"""Of those, how many a crash report quotes (the last ones)."""

_FRAME_PREFIXES = ("at ", "--- ", "Repeat ")
"""How the lines of a .NET stack trace start."""

SHUTDOWN_SECONDS = 2.0
"""How long a worker asked to leave may take before it is killed."""

RunMessage = Step | OutcomeMessage | Failed


class WorkerState(StrEnum):
    """Where a worker is in its life."""

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """``min_workers`` kept idle and ready, at most ``max_workers`` in all, recycling after ``max_tasks`` runs
    or above ``max_memory_mb`` of idle resident memory (0: never)."""

    min_workers: int = 2
    max_workers: int = 8
    max_tasks: int = 200
    max_memory_mb: int = 1024


class Worker:
    """One worker process as the daemon sees it. ``on_message`` receives the current run's messages;
    ``on_gone`` is called once, with the exit status, when the process has ended."""

    def __init__(
        self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.state = WorkerState.STARTING
        self.tasks_run = 0
        self.rss = 0
        self.started = time.monotonic()
        self.output: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        """The last lines the worker wrote that are not stack frames (the runtime's fatal messages, e.g.
        "Stack overflow." or "Process terminated. <FailFast message>", come before hundreds of frames)."""
        self.ready: asyncio.Future[Hello] = asyncio.get_running_loop().create_future()
        # A worker that dies before its hello may have had no one waiting (a background start, closing).
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.task: str | None = None
        self.on_message: Callable[[RunMessage], None] | None = None
        self.kill_reason: str | None = None
        """Why the daemon killed this worker (None: it was not killed by the daemon)."""
        self.protocol_error: str | None = None
        self._reader = reader
        self._writer = writer
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._loops = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._read_output())]

    # -------------------------------------------------------------- talking

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the worker (dropped when it is gone)."""
        if self.state != WorkerState.GONE and not self._writer.is_closing():
            self._writer.write(encode(message))

    async def _read(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                self._dispatch(decode_from_worker(line))
        except ProtocolError as exc:
            self.protocol_error = str(exc)
            log.warning("worker %d: %s; killing it", self.pid, exc)
            self.kill("protocol")
        except (ValueError, asyncio.LimitOverrunError) as exc:  # a line over MAX_MESSAGE_BYTES
            self.protocol_error = f"the worker sent a message over {MAX_MESSAGE_BYTES} bytes ({exc})"
            self.kill("protocol")
        except (ConnectionError, OSError):
            pass
        # End of the socket: the process is ending (or was told to); make sure it does, then report.
        code = await self._wait_exit()
        self.state = WorkerState.GONE
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(self.describe_exit(code)))
        if not self.exited.done():
            self.exited.set_result(code)

    async def _wait_exit(self) -> int:
        try:
            return await asyncio.wait_for(self.proc.wait(), SHUTDOWN_SECONDS)
        except TimeoutError:
            self.kill(self.kill_reason or "unresponsive")
            return await self.proc.wait()

    def _dispatch(self, message: Hello | Heartbeat | RunMessage) -> None:
        if isinstance(message, Hello):
            if not self.ready.done():
                self.ready.set_result(message)
            return
        if isinstance(message, Heartbeat):
            self.rss = message.rss
            return
        if message.task != self.task or self.on_message is None:
            raise ProtocolError(
                f"the worker sent a {message.type!r} message about task {message.task!r}, but it runs {self.task!r}"
            )
        self.on_message(message)

    async def _read_output(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        with contextlib.suppress(ConnectionError, OSError, ValueError):
            async for raw in stream:
                line = raw.decode("utf-8", "replace").strip()
                if line and not line.startswith(_FRAME_PREFIXES):
                    self.output.append(line)
                log.debug("worker %d: %s", self.pid, line)

    # -------------------------------------------------------------- ending

    def kill(self, reason: str) -> None:
        """SIGKILL the worker's whole process group (the task's own child processes too). Nothing is sent
        once the worker has been reaped: its pid, the group's id, may already belong to someone else."""
        if self.kill_reason is None:
            self.kill_reason = reason
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def close_channel(self) -> None:
        """Close the daemon's end of the socket (the worker exits at end-of-file)."""
        with contextlib.suppress(Exception):
            self._writer.close()

    def describe_exit(self, code: int) -> str:
        """``exited with code 3`` / ``was killed by signal SIGKILL (9)``, and the last output lines."""
        if code < 0:
            with contextlib.suppress(ValueError):
                what = f"was killed by signal {signal.Signals(-code).name} ({-code})"
                return what + self._tail()
            return f"was killed by signal {-code}" + self._tail()
        return f"exited with code {code}" + self._tail()

    def _tail(self) -> str:
        lines = list(self.output)[-CRASH_LINES:]
        return "; its last output: " + " | ".join(lines) if lines else "; it wrote nothing to stderr"

    def memory_mb(self) -> float:
        """Resident memory now (MiB), 0 when the process is gone."""
        try:
            return float(psutil.Process(self.pid).memory_info().rss) / 2**20
        except psutil.Error:
            return 0.0


class WorkerPool:
    """Starts, lends, takes back, recycles and replaces workers (see the module docstring)."""

    def __init__(self, settings: PoolSettings, limits: OutputLimits, counters: PoolCounters) -> None:
        self.settings = settings
        self._limits = limits
        self._counters = counters
        self._idle: collections.deque[Worker] = collections.deque()
        self._all: set[Worker] = set()
        self._starting = 0
        self._closed = False
        self._background: set[asyncio.Task[Any]] = set()
        self._failures = 0
        self._changed = asyncio.Event()
        """Set whenever a worker becomes idle, a start ends (either way) or a worker goes."""
        self._background_starts = 0
        self.first_ready = asyncio.Event()
        """Set once the first worker is ready (or could not start): heavy daemon-side warm-ups wait for it, so
        that they do not slow down the start of the worker the first task needs."""

    # -------------------------------------------------------------- lending

    def start(self) -> None:
        """Start ``min_workers`` in the background."""
        if not self.settings.min_workers:
            self.first_ready.set()  # nothing to wait for
        self._top_up()

    async def acquire(self) -> Worker:
        """An idle, ready worker: one that waits, else a new one when fewer than ``max_workers`` exist (or
        are starting), else the next that becomes idle or finishes starting.

        Raises:
            RuntimeError: a new worker could not start (its exit and output in the message).
        """
        while True:
            while self._idle:
                worker = self._idle.popleft()
                if worker.state == WorkerState.IDLE:
                    worker.state = WorkerState.BUSY
                    self._top_up()
                    return worker
            if self._live() + self._starting < self.settings.max_workers or not self._starting:
                worker = await self._spawn()
                worker.state = WorkerState.BUSY
                self._top_up()
                return worker
            self._changed.clear()
            await self._changed.wait()

    def _live(self) -> int:
        return len([w for w in self._all if w.state != WorkerState.GONE])

    def give_back(self, worker: Worker) -> None:
        """Take a worker back after a run: idle again, or recycled (too many runs, too much memory), or
        replaced if it is gone."""
        worker.task = None
        worker.on_message = None
        if worker.state == WorkerState.GONE or self._closed:
            self._top_up()
            return
        worker.tasks_run += 1
        s = self.settings
        memory = worker.memory_mb()
        if (s.max_tasks and worker.tasks_run >= s.max_tasks) or (s.max_memory_mb and memory > s.max_memory_mb):
            log.info("recycling worker %d after %d tasks at %.0f MiB", worker.pid, worker.tasks_run, memory)
            self._counters.recycles += 1
            self._retire(worker)
        else:
            worker.state = WorkerState.IDLE
            self._idle.append(worker)
            self._changed.set()
        self._top_up()

    def counts(self) -> dict[str, int]:
        """Workers by state (``starting``, ``idle``, ``busy``)."""
        counts = {state.value: 0 for state in WorkerState if state != WorkerState.GONE}
        for worker in self._all:
            if worker.state != WorkerState.GONE:
                counts[worker.state.value] += 1
        counts[WorkerState.STARTING.value] += self._starting
        return counts

    @property
    def workers(self) -> list[Worker]:
        """The live workers (for tests and diagnostics)."""
        return [w for w in self._all if w.state != WorkerState.GONE]

    # -------------------------------------------------------------- starting, replacing

    def _top_up(self) -> None:
        """Start idle workers up to ``min_workers``, one at a time (two .NET starts at once on two cores take as
        long as two in a row, and the first one is what a waiting task needs)."""
        if self._closed or self._failures >= 3 or self._background_starts:
            return
        live = self._live() + self._starting
        idle = len([w for w in self._idle if w.state == WorkerState.IDLE]) + self._starting
        if idle < self.settings.min_workers and live < self.settings.max_workers:
            self._background_starts += 1
            self._in_background(self._spawn_idle())

    def _in_background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _spawn_idle(self) -> None:
        try:
            worker = await self._spawn()
        except Exception as exc:  # logged; a later acquire tries again and reports the error to its task
            log.error("a worker could not start: %s", exc)
            return
        else:
            worker.state = WorkerState.IDLE
            self._idle.append(worker)
        finally:
            self._background_starts -= 1
            self._changed.set()
        self._top_up()

    async def _spawn(self) -> Worker:
        self._starting += 1
        began = time.monotonic()
        try:
            worker = await self._launch()
            try:
                hello = await asyncio.wait_for(asyncio.shield(worker.ready), START_TIMEOUT_SECONDS)
            except BaseException:
                worker.kill("start failed")
                raise
        except BaseException:
            self._failures += 1
            raise
        finally:
            self._starting -= 1
            self.first_ready.set()
        self._failures = 0
        self._counters.starts += 1
        self._counters.start_seconds += time.monotonic() - began
        log.info(
            "worker %d ready in %.2f s (.NET %s, PowerShell %s)",
            hello.pid,
            time.monotonic() - began,
            hello.dotnet,
            hello.powershell,
        )
        return worker

    async def _launch(self) -> Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            env = dict(os.environ)
            from ...runtime import BUNDLE_ENV, default_bundle_dir

            env[BUNDLE_ENV] = str(default_bundle_dir())
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "krtasks.engines.process.worker",
                "--fd",
                str(theirs.fileno()),
                "--parent",
                str(os.getpid()),
                "--limits",
                orjson.dumps(asdict(self._limits)).decode(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                env=env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours, limit=MAX_MESSAGE_BYTES)
        worker = Worker(proc, reader, writer)
        self._all.add(worker)
        worker.exited.add_done_callback(lambda _f: self._gone(worker))
        return worker

    def _gone(self, worker: Worker) -> None:
        self._all.discard(worker)
        self._changed.set()
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        code = worker.exited.result()
        if self._closed or worker.kill_reason in ("recycle", "shutdown"):
            return
        if worker.task is None and worker.kill_reason is None:
            log.warning("idle worker %d %s; replacing it", worker.pid, worker.describe_exit(code))
        if worker.kill_reason is None and worker.task is not None:
            self._counters.crashes += 1
        self._top_up()

    def _retire(self, worker: Worker) -> None:
        worker.state = WorkerState.GONE
        worker.kill_reason = "recycle"
        worker.send({"type": "shutdown"})
        worker.close_channel()

    # -------------------------------------------------------------- closing

    async def close(self) -> None:
        """Ask every worker to leave, kill those that do not within :data:`SHUTDOWN_SECONDS`."""
        self._closed = True
        for task in list(self._background):
            task.cancel()
        workers = list(self._all)
        for worker in workers:
            worker.kill_reason = worker.kill_reason or "shutdown"
            worker.close_channel()
        if workers:
            await asyncio.gather(*(w.exited for w in workers), return_exceptions=True)


@dataclass
class PoolCounters:
    """What the pool counts for metrics: worker starts (and the seconds they took, summed: spawn to ready),
    crashes during a task, kills by the daemon, recycles."""

    starts: int = 0
    crashes: int = 0
    kills: int = 0
    recycles: int = 0
    start_seconds: float = 0.0
