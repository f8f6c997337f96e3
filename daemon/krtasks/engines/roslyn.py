"""C# and VB.NET engines (Roslyn). Code is compiled when a task is created; identical code with the
same argument types, imports and references is compiled once and shared.

Memory: every compiled script lives in its own collectible AssemblyLoadContext. A cache entry is held
by the tasks that use it; entries no task holds stay in an LRU of ``cache_size`` and are unloaded when
they fall out, so distinct ad-hoc scripts do not accumulate (Roslyn's own scripting API would load
every script into a context that is never freed).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .errors import CompileError
from .execution import (
    CapturedExecution,
    Outcome,
    StepResult,
    diagnostics_list,
    drain,
    dropped_notes,
    error_dict,
    load_json,
)
from .runtime import NetTypes

CacheKey = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]
"""(language, code, argument signature, imports, references)."""


@dataclass
class _Entry:
    script: Any
    holders: int = 0


class RoslynEngine:
    """Compiles and starts C# or VB.NET code (``language`` is ``"CSharp"`` or ``"VBNet"``). Thread-safe."""

    def __init__(self, net: NetTypes, language: str, cache_size: int, stream_limit: int, output_max_depth: int,
                 output_max_bytes: int) -> None:
        self._net = net
        self.language = language
        self._cache_size = max(0, cache_size)
        self._stream_limit = stream_limit
        self._depth = output_max_depth
        self._max_bytes = output_max_bytes
        self._lock = threading.Lock()
        self._held: dict[CacheKey, _Entry] = {}
        self._idle: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self.compilations = 0
        """Compilations done (cache misses), for tests and metrics."""

    def prepare(self, code: str, arguments: Any, imports: list[str], refs: list[str]) -> CacheKey:
        """Compile (or reuse) ``code`` and hold the result for one task; return its cache key.

        Raises:
            CompileError: with Roslyn's diagnostics (CSxxxx / BCxxxx, 1-based lines in the user's code).
        """
        net = self._net
        key: CacheKey = (self.language, code, str(net.TaskArguments.Signature(arguments)), tuple(imports),
                         tuple(refs))
        with self._lock:
            entry = self._held.get(key) or self._idle.pop(key, None)
            if entry is not None:
                entry.holders += 1
                self._held[key] = entry
                return key
        compiler = net.ScriptCompiler
        compile_fn = compiler.CompileCSharp if self.language == "CSharp" else compiler.CompileVisualBasic
        result = compile_fn(code, arguments, list(imports), list(refs))
        if not result.Success:
            raise CompileError(self.language, diagnostics_list(result.Diagnostics))
        with self._lock:
            self.compilations += 1
            entry = self._held.get(key)
            if entry is None:
                entry = _Entry(result.Script)
                self._held[key] = entry
            else:  # another thread compiled the same code meanwhile: keep one copy
                result.Script.Unload()
            entry.holders += 1
        return key

    def release(self, key: CacheKey) -> None:
        """Drop one task's hold on ``key``; unheld scripts beyond the LRU size are unloaded."""
        to_unload = []
        with self._lock:
            entry = self._held.get(key)
            if entry is None:
                return
            entry.holders -= 1
            if entry.holders > 0:
                return
            del self._held[key]
            self._idle[key] = entry
            while len(self._idle) > self._cache_size:
                to_unload.append(self._idle.popitem(last=False)[1])
        for e in to_unload:
            e.script.Unload()

    @property
    def loaded_scripts(self) -> int:
        """Scripts currently loaded (held by tasks or idle in the LRU)."""
        with self._lock:
            return len(self._held) + len(self._idle)

    def launch(self, key: CacheKey, task_id: str, arguments: Any, progress: Any) -> RoslynExecution:
        """Start the script held under ``key`` on the .NET thread pool."""
        net = self._net
        with self._lock:
            script = self._held[key].script
        sink = net.StreamSink(self._stream_limit)
        cts = net.CancellationTokenSource()
        globals_ = net.TaskGlobals(task_id, progress, arguments, cts.Token)
        task = script.Start(globals_, sink)
        return RoslynExecution(net, task, cts, sink, progress, str(script.File), self._depth, self._max_bytes)

    def close(self) -> None:
        """Unload every idle script."""
        with self._lock:
            idle = list(self._idle.values())
            self._idle.clear()
        for e in idle:
            e.script.Unload()


class RoslynExecution(CapturedExecution):
    """One running C#/VB script (see :class:`krtasks.execution.Execution`)."""

    def __init__(self, net: NetTypes, task: Any, cts: Any, sink: Any, progress: Any, file: str, depth: int,
                 max_bytes: int) -> None:
        super().__init__(sink, progress, depth, max_bytes)
        self._net = net
        self._task = task
        self._cts = cts
        self._file = file

    def step(self, wait_ms: int) -> StepResult:
        """Wait up to ``wait_ms`` ms for the script's task, then report records and progress."""
        # IAsyncResult's wait handle: unlike Task.Wait it never throws for a faulted task.
        return self.report(bool(self._task.IsCompleted) or self._task_wait(wait_ms))

    def _task_wait(self, wait_ms: int) -> bool:
        return bool(self._net.IAsyncResult(self._task).AsyncWaitHandle.WaitOne(wait_ms))

    def stop(self) -> None:
        """Signal the task's cancellation token (callbacks run on this executor thread, not the loop)."""
        # A callback registered by user code may throw; the token is cancelled regardless.
        with contextlib.suppress(Exception):
            self._cts.Cancel()

    def finish(self) -> Outcome:
        """Read the result or the exception; convert the value to JSON."""
        net = self._net
        net.ConsoleRouter.Flush(self._sink)
        notes: list[str] = []
        output: Any = None
        error = None
        if self._task.IsFaulted or self._task.IsCanceled:
            exc = self._task.Exception
            if exc is not None:
                error = error_dict(net.ErrorInfo.FromDotNet(exc, self._file))
            else:
                error = {"Type": "System.OperationCanceledException", "Message": "The task was cancelled.",
                         "Category": None, "StackTrace": None, "Line": None, "Column": None}
        else:
            output = load_json(net.OutputConverter.TaskResultToJson(self._task, self._depth, self._max_bytes),
                               notes, "values")
        notes.extend(dropped_notes(self._sink))
        records = drain(self._sink)
        self._cts.Dispose()
        self._task = None
        return Outcome(output, error, None, notes, records)
