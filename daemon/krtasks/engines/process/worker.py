"""A worker process: runs the daemon's tasks one at a time, on fresh PowerShell runspaces or loaded C#/VB images.

Started by the daemon, never by hand::

    python -m krtasks.engines.process.worker --fd 3 --parent <daemon pid> --limits '<OutputLimits JSON>'

``--fd`` is this end of the daemon's socket pair (see :mod:`krtasks.engines.process.protocol`). The worker
dies with the daemon: ``PR_SET_PDEATHSIG`` delivers SIGKILL when the daemon goes (also after ``kill -9``),
and it exits when the socket reaches end-of-file. It loads .NET and the PowerShell SDK, not Roslyn: C#/VB
arrive compiled. Before each task it sets the task's environment variables and directory, and afterwards
restores its own (:class:`KrTasks.Runtime.ProcessContext`), so nothing of one task reaches the next.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict
from typing import Any, BinaryIO

import orjson
import psutil

from ...models import TaskErrorInfo
from ..base import Outcome, OutputLimits, StepReport
from ..cache import HeldCache
from ..captured import SyncExecution
from .protocol import encode

PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal this process gets when its parent thread dies."""

STEP_MS = 200
"""How long one step of the running task waits before reporting (ms)."""

HEARTBEAT_SECONDS = 1.0
"""How often the worker says it is alive, with its memory use."""

SCRIPT_CACHE_SIZE = 32
"""Loaded C#/VB scripts kept for reuse when no task runs them."""


def tie_to_parent(parent: int) -> None:
    """Die when the daemon dies: SIGKILL on parent death (Linux), and exit now if it is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the daemon died before prctl took effect
        os._exit(0)


class Channel:
    """This end of the socket: whole lines in, whole messages out (thread-safe sends)."""

    def __init__(self, fd: int) -> None:
        # Not inherited by processes the task starts: the daemon must see end-of-file when this worker dies.
        os.set_inheritable(fd, False)
        self._sock = socket.socket(fileno=fd)
        self.reader: BinaryIO = self._sock.makefile("rb")
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Send one message; a daemon that went away ends this process."""
        data = encode(message)
        try:
            with self._lock:
                self._sock.sendall(data)
        except OSError:
            os._exit(0)


def _error(exc: BaseException, what: str) -> dict[str, Any]:
    return dict(TaskErrorInfo(type(exc).__name__, f"{what}: {exc}").to_json())


class WorkerHost:
    """Runs one task at a time on a thread of its own, while the main thread keeps reading the socket."""

    def __init__(self, net: Any, limits: OutputLimits, channel: Channel) -> None:
        from ..powershell import PowerShellRunner

        self._net = net
        self._limits = limits
        self._channel = channel
        self._powershell = PowerShellRunner(net, 1, limits)
        self._home = os.getcwd()
        """The worker's own directory: a task without a WorkingDirectory starts there. A runspace starts in
        the process directory of the moment it was opened (the pool opens the next one during a task), so
        every PowerShell task's location is set explicitly."""
        self._scripts: HeldCache[str, Any] = HeldCache(SCRIPT_CACHE_SIZE, lambda script: script.Unload())
        self._lock = threading.Lock()
        self._task: str | None = None
        self._execution: SyncExecution | None = None
        self._stop_asked = False

    def warm_up(self) -> None:
        """Run an empty PowerShell pipeline once, so that the first task does not pay the JIT of the whole
        invocation path (~0.7 s on 2 cores); workers start ahead of demand, so this is paid before it counts."""
        execution = self._powershell.launch("$null", self._net.TaskArguments.FromJson("{}"), "warm-up")
        while not execution.step(STEP_MS).ended:
            pass
        execution.finish()

    def start(self, message: dict[str, Any]) -> None:
        """Run the task of a ``start`` message on a new thread (refused while another one runs)."""
        with self._lock:
            if self._task is not None:
                busy = RuntimeError(f"the worker is running task {self._task}")
                self._channel.send({"type": "failed", "task": message["task"], "error": _error(busy, "Busy")})
                return
            self._task = message["task"]
            self._execution = None
            self._stop_asked = False
        threading.Thread(target=self._run, args=(message,), name="krtasks-task", daemon=True).start()

    def stop(self, message: dict[str, Any]) -> None:
        """Ask the running task to stop (a stop that arrives before the code started is applied at once)."""
        with self._lock:
            if self._task != message.get("task"):
                return
            self._stop_asked = True
            execution = self._execution
        if execution is not None:
            execution.stop()

    @property
    def busy(self) -> bool:
        """True while a task runs."""
        with self._lock:
            return self._task is not None

    def _launch(self, message: dict[str, Any]) -> SyncExecution:
        from ..roslyn import start_script

        net = self._net
        clixml = message.get("arguments_clixml")
        arguments = (
            net.TaskArguments.FromJson(message["arguments"])
            if clixml is None
            else (net.TaskArguments.FromCliXml(clixml))
        )
        depth = message.get("clixml_depth")
        environment: dict[str, str] = message.get("environment") or {}
        directory = message.get("directory")
        net.ProcessContext.Apply(list(environment), list(environment.values()), directory)
        script = message.get("script")
        if script is None:
            reuse = message.get("reuse_runspace") is True
            return self._powershell.launch(
                message["code"], arguments, message["task"], directory or self._home, depth, reuse=reuse
            )
        compiled = self._scripts.hold(script["id"])
        if compiled is None:
            image = net.ScriptImage(
                base64.b64decode(script["pe"]),
                base64.b64decode(script["pdb"]),
                bool(script["is_script"]),
                str(script["file"]),
            )
            compiled = self._scripts.add(script["id"], image.Load())
        return start_script(net, compiled, arguments, message["task"], self._limits, depth)

    def _run(self, message: dict[str, Any]) -> None:
        task = message["task"]
        try:
            try:
                execution = self._launch(message)
            except Exception as exc:  # e.g. a directory that vanished since the task was created
                final: dict[str, Any] = {
                    "type": "failed",
                    "task": task,
                    "error": _error(exc, "The task could not be started"),
                }
            else:
                with self._lock:
                    self._execution = execution
                    stop_now = self._stop_asked
                if stop_now:
                    execution.stop()
                try:
                    final = self._watch(task, execution)
                except Exception as exc:  # a bug or a runtime failure must still end the task
                    final = {
                        "type": "outcome",
                        "task": task,
                        "output": None,
                        "prompt": None,
                        "notes": [],
                        "records": [],
                        "error": _error(exc, "The engine failed while running the task"),
                    }
        finally:
            # Back to the worker's own state before the daemon hears the end: it may send the next task at once.
            self._net.ProcessContext.Restore()
            if message.get("script") is not None:
                self._scripts.release(message["script"]["id"])
            with self._lock:
                self._task = None
                self._execution = None
        self._channel.send(final)

    def _watch(self, task: str, execution: SyncExecution) -> dict[str, Any]:
        """Report the run's steps until it ends; return the outcome message (not sent yet)."""
        while True:
            report: StepReport = execution.step(STEP_MS)
            if report.records or report.progress is not None or report.ended:
                progress = None if report.progress is None else list(asdict(report.progress).values())
                self._channel.send({"type": "step", "task": task, "records": report.records, "progress": progress})
            if report.ended:
                break
        outcome: Outcome = execution.finish()
        return {
            "type": "outcome",
            "task": task,
            "output": outcome.output,
            "error": None if outcome.error is None else outcome.error.to_json(),
            "prompt": outcome.prompt,
            "notes": outcome.notes,
            "records": outcome.records,
            "output_clixml": outcome.output_clixml,
        }


def _heartbeats(channel: Channel) -> None:
    me = psutil.Process()
    while True:
        channel.send({"type": "heartbeat", "rss": me.memory_info().rss})
        time.sleep(HEARTBEAT_SECONDS)


def main(argv: list[str] | None = None) -> int:
    """Serve the daemon until the socket closes or it says ``shutdown``; return the exit status."""
    parser = argparse.ArgumentParser(prog="krtasks-worker", description="A KrTasks worker (started by the daemon).")
    parser.add_argument("--fd", type=int, required=True, help="this end of the daemon's socket pair")
    parser.add_argument("--parent", type=int, required=True, help="the daemon's pid")
    parser.add_argument("--limits", default="{}", help="OutputLimits as JSON")
    ns = parser.parse_args(argv)
    tie_to_parent(ns.parent)
    channel = Channel(ns.fd)
    limits = OutputLimits(**orjson.loads(ns.limits))

    from ...runtime import load_runtime

    runtime = load_runtime(compiler=False)
    runtime.net.ProcessContext.Capture()
    host = WorkerHost(runtime.net, limits, channel)
    host.warm_up()
    channel.send(
        {
            "type": "hello",
            "pid": os.getpid(),
            "dotnet": runtime.dotnet_version,
            "powershell": runtime.powershell_version,
        }
    )
    threading.Thread(target=_heartbeats, args=(channel,), name="krtasks-heartbeat", daemon=True).start()
    for line in channel.reader:
        message = orjson.loads(line)
        kind = message.get("type")
        if kind == "start":
            host.start(message)
        elif kind == "stop":
            host.stop(message)
        elif kind == "shutdown" and not host.busy:
            break
    # The daemon closed the socket (or said shutdown): leave without waiting for .NET's threads.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
