"""PowerShell engine (synchronous): each task runs on a fresh runspace taken from a warm pool, or, with
``ReuseRunspace``, on a runspace an earlier such task used once it is reset and verified.

Fresh by default, because ``ResetRunspaceState`` alone leaves a task's functions, aliases, drives and
modules behind (measured: variables are cleared, those are not). Opening one costs ~8 ms, so the pool keeps
``size`` runspaces open ahead of demand and refills on a background thread. A reused runspace goes through
``KrTasks.Runtime.RunspaceBaseline.TryReset`` (on a background thread, after its task) and is kept only when
its state then equals a fresh runspace's; see docs/isolation.md. Script parse errors are reported at
creation, like C#/VB compile errors.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from ..models import Language
from ..runtime import NetTypes
from .base import CodeRequest, LaunchRequest, Outcome, OutputLimits, Prepared, StepReport
from .captured import (
    CapturedExecution,
    compile_error,
    drain,
    dropped_notes,
    error_info,
    load_json,
    net_arguments,
    new_progress,
)

log = logging.getLogger("krtasks.engines")

TAKE_TIMEOUT_S = 2.0
"""How long :meth:`RunspacePool.take` waits for the refill thread before opening a runspace itself."""


class RunspacePool:
    """Pre-opened runspaces, each used by one task and then disposed; and runspaces that runs with reuse
    gave back, reset and verified.

    ``take()`` returns an open runspace at once when one is ready (else waits for the refill thread,
    which keeps ``size`` runspaces ready); ``take(reuse=True)`` prefers a reset one. ``give_back()`` hands a
    used runspace to the reset thread, which keeps it (at most ``size``) when its reset verifies, else
    disposes it. Thread-safe.
    """

    def __init__(self, net: NetTypes, size: int) -> None:
        self._net = net
        self._factory = net.RunspaceFactory
        # CreateDefault loads the core modules from their assemblies; no module auto-load needed at start.
        self._iss = net.InitialSessionState.CreateDefault()
        self._ready: queue.Queue[Any] = queue.Queue()
        # Last in, first out: the runspace reset last is the warmest (its caches), and the one a test expects.
        self._reset: queue.LifoQueue[Any] = queue.LifoQueue()
        self._to_reset: queue.Queue[Any] = queue.Queue()
        self._baseline: Any = None
        self._baseline_lock = threading.Lock()
        self._size = max(1, size)
        self._wanted = threading.Semaphore(0)
        self._closed = False
        self.reused = 0
        """Runs that got a reset runspace (for tests and metrics)."""
        self.discarded = 0
        """Given-back runspaces whose reset did not verify, disposed (for tests and metrics)."""
        for _ in range(self._size):
            self._wanted.release()
        self._thread = threading.Thread(target=self._refill, name="krtasks-runspaces", daemon=True)
        self._thread.start()
        self._reset_thread = threading.Thread(target=self._resetter, name="krtasks-runspace-reset", daemon=True)
        self._reset_thread.start()

    def _open(self) -> Any:
        rs = self._factory.CreateRunspace(self._iss)
        rs.Open()
        if self._baseline is None:
            with self._baseline_lock:
                if self._baseline is None:  # the first runspace, unused: what a reset must return to
                    self._baseline = self._net.RunspaceBaseline.Take(rs)
        return rs

    def _refill(self) -> None:
        while True:
            self._wanted.acquire()
            if self._closed:
                return
            try:
                self._ready.put(self._open())
            except Exception:  # an open failure must not kill the refill thread; take() opens inline
                continue

    def _resetter(self) -> None:
        while True:
            rs = self._to_reset.get()
            if rs is None:
                return
            try:
                difference = self._baseline.TryReset(rs)
            except Exception as exc:  # pythonnet: a .NET failure in the reset itself
                difference = str(exc)
            if difference is None and not self._closed and self._reset.qsize() < self._size:
                self._reset.put(rs)
                continue
            if difference is not None:
                self.discarded += 1
                log.debug("runspace not reused: %s", difference)
            rs.Dispose()

    def take(self, reuse: bool = False) -> Any:
        """Return an open runspace for one task: with ``reuse``, a reset one when there is one; else a ready
        fresh one, else the next one the refill thread opens."""
        if reuse:
            try:
                rs = self._reset.get_nowait()
                self.reused += 1
                return rs
            except queue.Empty:
                pass
        self._wanted.release()
        try:
            # Wait for the refill thread rather than open here: concurrent opens slow each other down
            # (bench, 2 cores: 1 000-task burst 72 → 115 tasks/s), and every inline open used to leave the
            # pool one runspace larger for good (~800 idle runspaces, +1.1 GB RSS after that burst).
            return self._ready.get(timeout=TAKE_TIMEOUT_S)
        except queue.Empty:
            # Refill is failing or stuck: withdraw this take's request if not yet picked up, open inline.
            self._wanted.acquire(blocking=False)
            return self._open()

    def give_back(self, runspace: Any) -> None:
        """A run with reuse ended: reset ``runspace`` in the background and keep it if the reset verifies."""
        if self._closed or self._baseline is None:
            runspace.Dispose()
        else:
            self._to_reset.put(runspace)

    def close(self) -> None:
        """Dispose the ready and reset runspaces and stop both threads."""
        self._closed = True
        self._wanted.release()
        self._to_reset.put(None)
        for ready in (self._ready, self._reset):
            while True:
                try:
                    ready.get_nowait().Dispose()
                except queue.Empty:
                    break


def _dispose(runspace: Any) -> None:
    runspace.Dispose()


def parse(net: NetTypes, code: str) -> None:
    """Check ``code`` for PowerShell parse errors.

    Raises:
        CompileError: PowerShell's parse errors (1-based lines).
    """
    diagnostics = net.PowerShellRun.Parse(code)
    if diagnostics.Length:
        raise compile_error(Language.POWERSHELL, diagnostics)


class PowerShellRunner:
    """Starts PowerShell code on fresh runspaces from a warm pool of ``pool_size`` (in the daemon with thread
    isolation, in a worker process with process isolation)."""

    def __init__(self, net: NetTypes, pool_size: int, limits: OutputLimits) -> None:
        self._net = net
        self._pool = RunspacePool(net, pool_size)
        self._limits = limits

    def launch(
        self,
        code: str,
        arguments: Any,
        task_id: str,
        directory: str | None = None,
        clixml_depth: int | None = None,
        reuse: bool = False,
    ) -> PowerShellExecution:
        """Start ``code`` with ``arguments`` (a .NET dictionary), ``$TaskId`` and a new ``$TaskProgress``, in
        ``directory`` (``$PWD``) when given; ``clixml_depth``: also keep the output as CliXml; ``reuse``: on a
        reset runspace when one is ready, and give it back for the next such run."""
        net = self._net
        sink = net.StreamSink(self._limits.stream_records)
        progress = new_progress(net)
        runspace = self._pool.take(reuse)
        try:
            run = net.PowerShellRun(runspace, code, arguments, task_id, progress, sink, self._limits.max_items)
            if directory is not None:
                run.SetLocation(directory)
            run.Start()
        except BaseException:
            runspace.Dispose()
            raise
        release = self._pool.give_back if reuse else _dispose
        return PowerShellExecution(run, runspace, sink, progress, self._limits, clixml_depth, release)

    @property
    def pool(self) -> RunspacePool:
        """The runspace pool (for tests and metrics)."""
        return self._pool

    def close(self) -> None:
        """Release the runspace pool."""
        self._pool.close()


class PowerShellEngine:
    """Checks scripts for parse errors and starts them on fresh runspaces in this process (a
    :class:`SyncEngine`). The prepared handle is a :class:`PowerShellScript`."""

    language = Language.POWERSHELL

    def __init__(self, net: NetTypes, pool_size: int, limits: OutputLimits) -> None:
        self._net = net
        self._runner = PowerShellRunner(net, pool_size, limits)

    def prepare(self, request: CodeRequest) -> Prepared:
        """Parse the code; raise :class:`CompileError` with PowerShell's parse errors (1-based lines)."""
        parse(self._net, request.code)
        return Prepared(PowerShellScript(request.code, net_arguments(self._net, request)))

    def launch(self, prepared: Prepared, request: LaunchRequest) -> PowerShellExecution:
        """Start the script on a fresh runspace with its arguments and a new ``$TaskProgress``."""
        script = prepared.handle
        assert isinstance(script, PowerShellScript)
        return self._runner.launch(
            script.code,
            script.arguments,
            request.task_id,
            clixml_depth=request.clixml_depth,
            reuse=request.reuse_runspace,
        )

    def release(self, prepared: Prepared) -> None:
        """Nothing to release: a parsed script holds no .NET resources beyond its arguments."""

    def warm_up(self) -> None:
        """Nothing to warm up: the runspace pool fills itself from the start."""

    def close(self) -> None:
        """Release the runspace pool."""
        self._runner.close()


class PowerShellScript:
    """The prepared handle of a PowerShell task: the code and its arguments (a .NET dictionary)."""

    __slots__ = ("arguments", "code")

    def __init__(self, code: str, arguments: Any) -> None:
        self.code = code
        self.arguments = arguments


class PowerShellExecution(CapturedExecution):
    """One running PowerShell pipeline (see :class:`krtasks.engines.captured.SyncExecution`)."""

    def __init__(
        self,
        run: Any,
        runspace: Any,
        sink: Any,
        progress: Any,
        limits: OutputLimits,
        clixml_depth: int | None = None,
        release: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__(sink, progress, limits)
        self._run = run
        self._runspace = runspace
        self._clixml_depth = clixml_depth
        self._release = release or _dispose

    def step(self, wait_ms: int) -> StepReport:
        """Wait up to ``wait_ms`` ms for the pipeline, then report records and progress."""
        return self.report(bool(self._run.Wait(wait_ms)))

    def stop(self) -> None:
        """Begin stopping the pipeline (non-blocking)."""
        self._run.Stop()

    def finish(self) -> Outcome:
        """End the invocation; convert output; dispose the runspace (or give it back for reuse)."""
        limits = self._limits
        try:
            info = self._run.Finish()
            notes: list[str] = []
            dropped = int(self._run.DroppedOutput)
            if dropped:
                notes.append(f"{dropped} output objects were dropped (limit {limits.max_items} objects).")
            output = load_json(self._run.OutputJson(limits.max_depth, limits.max_bytes), notes, "output objects")
            clixml = None
            if self._clixml_depth is not None:
                clixml = str(self._run.OutputCliXml(self._clixml_depth, limits.max_bytes))
            notes.extend(dropped_notes(self._sink))
            prompt = None if self._sink.PromptAttempt is None else str(self._sink.PromptAttempt)
            error = None if info is None else error_info(info)
            return Outcome(output, error, prompt, notes, drain(self._sink), clixml)
        finally:
            self._run.Dispose()
            self._release(self._runspace)
