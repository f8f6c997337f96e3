"""C# and VB.NET engines (Roslyn, synchronous). Code is compiled when a task is created; identical code with
the same argument types, imports and references is compiled once and shared.

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

from ..models import Language, TaskErrorInfo
from ..runtime import NetTypes
from .base import CodeRequest, LaunchRequest, Outcome, OutputLimits, Prepared, StepReport
from .captured import CapturedExecution, compile_error, drain, dropped_notes, error_info, load_json, new_progress

_warm_up_lock = threading.Lock()
_warmed_up = False

CacheKey = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]
"""(language, code, argument signature, imports, references)."""


@dataclass
class _Entry:
    script: Any
    holders: int = 0


@dataclass(frozen=True, slots=True)
class RoslynScript:
    """The prepared handle of a C#/VB task: its compile-cache key and its arguments (a .NET dictionary)."""

    key: CacheKey
    arguments: Any


class RoslynEngine:
    """Compiles and starts C# or VB.NET code (a :class:`SyncEngine`). Thread-safe."""

    def __init__(self, net: NetTypes, language: Language, cache_size: int, limits: OutputLimits) -> None:
        self._net = net
        self._language = language
        self._cache_size = max(0, cache_size)
        self._limits = limits
        self._lock = threading.Lock()
        self._held: dict[CacheKey, _Entry] = {}
        self._idle: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self.compilations = 0
        """Compilations done (cache misses), for tests and metrics."""

    @property
    def language(self) -> Language:
        """CSharp or VBNet."""
        return self._language

    def prepare(self, request: CodeRequest) -> Prepared:
        """Compile (or reuse) the code and hold the result for one task.

        Raises:
            CompileError: with Roslyn's diagnostics (CSxxxx / BCxxxx, 1-based lines in the user's code).
        """
        net = self._net
        arguments = net.TaskArguments.FromJson(request.arguments_json)
        key: CacheKey = (
            self._language.value,
            request.code,
            str(net.TaskArguments.Signature(arguments)),
            request.extra_imports,
            request.extra_refs,
        )
        with self._lock:
            entry = self._held.get(key) or self._idle.pop(key, None)
            if entry is not None:
                entry.holders += 1
                self._held[key] = entry
                return Prepared(RoslynScript(key, arguments), compiled=False)
        compiler = net.ScriptCompiler
        compile_fn = compiler.CompileCSharp if self._language == Language.CSHARP else compiler.CompileVisualBasic
        result = compile_fn(request.code, arguments, list(request.extra_imports), list(request.extra_refs))
        if not result.Success:
            raise compile_error(self._language, result.Diagnostics)
        with self._lock:
            self.compilations += 1
            entry = self._held.get(key)
            if entry is None:
                entry = _Entry(result.Script)
                self._held[key] = entry
            else:  # another thread compiled the same code meanwhile: keep one copy
                result.Script.Unload()
            entry.holders += 1
        return Prepared(RoslynScript(key, arguments), compiled=True)

    def release(self, prepared: Prepared) -> None:
        """Drop one task's hold on its script; unheld scripts beyond the LRU size are unloaded."""
        script = prepared.handle
        assert isinstance(script, RoslynScript)
        to_unload = []
        with self._lock:
            entry = self._held.get(script.key)
            if entry is None:
                return
            entry.holders -= 1
            if entry.holders > 0:
                return
            del self._held[script.key]
            self._idle[script.key] = entry
            while len(self._idle) > self._cache_size:
                to_unload.append(self._idle.popitem(last=False)[1])
        for e in to_unload:
            e.script.Unload()

    @property
    def loaded_scripts(self) -> int:
        """Scripts currently loaded (held by tasks or idle in the LRU)."""
        with self._lock:
            return len(self._held) + len(self._idle)

    @property
    def held_scripts(self) -> int:
        """Scripts held by at least one task."""
        with self._lock:
            return len(self._held)

    def launch(self, prepared: Prepared, request: LaunchRequest) -> RoslynExecution:
        """Start the held script on the .NET thread pool."""
        script = prepared.handle
        assert isinstance(script, RoslynScript)
        net = self._net
        with self._lock:
            compiled = self._held[script.key].script
        sink = net.StreamSink(self._limits.stream_records)
        progress = new_progress(net)
        cts = net.CancellationTokenSource()
        globals_ = net.TaskGlobals(request.task_id, progress, script.arguments, cts.Token)
        task = compiled.Start(globals_, sink)
        return RoslynExecution(net, task, cts, sink, progress, str(compiled.File), self._limits)

    def warm_up(self) -> None:
        """Compile once (C# and VB, once per process) so that later compiles skip the cold JIT of the
        compiler (~3 s on 2 cores)."""
        with _warm_up_lock:
            global _warmed_up
            if not _warmed_up:
                _warmed_up = True
                self._net.ScriptCompiler.WarmUp()

    def close(self) -> None:
        """Unload every idle script."""
        with self._lock:
            idle = list(self._idle.values())
            self._idle.clear()
        for e in idle:
            e.script.Unload()


class RoslynExecution(CapturedExecution):
    """One running C#/VB script (see :class:`krtasks.engines.captured.SyncExecution`)."""

    def __init__(
        self, net: NetTypes, task: Any, cts: Any, sink: Any, progress: Any, file: str, limits: OutputLimits
    ) -> None:
        super().__init__(sink, progress, limits)
        self._net = net
        self._task = task
        self._cts = cts
        self._file = file

    def step(self, wait_ms: int) -> StepReport:
        """Wait up to ``wait_ms`` ms for the script's task, then report records and progress."""
        # IAsyncResult's wait handle: unlike Task.Wait it never throws for a faulted task.
        return self.report(bool(self._task.IsCompleted) or self._task_wait(wait_ms))

    def _task_wait(self, wait_ms: int) -> bool:
        return bool(self._net.IAsyncResult(self._task).AsyncWaitHandle.WaitOne(wait_ms))

    def stop(self) -> None:
        """Signal the task's cancellation token (callbacks run on the calling thread, never the loop)."""
        # A callback registered by user code may throw; the token is cancelled regardless.
        with contextlib.suppress(Exception):
            self._cts.Cancel()

    def finish(self) -> Outcome:
        """Read the result or the exception; convert the value to JSON."""
        net = self._net
        limits = self._limits
        net.ConsoleRouter.Flush(self._sink)
        notes: list[str] = []
        output: Any = None
        error = None
        if self._task.IsFaulted or self._task.IsCanceled:
            exc = self._task.Exception
            if exc is not None:
                error = error_info(net.ErrorInfo.FromDotNet(exc, self._file))
            else:
                error = TaskErrorInfo("System.OperationCanceledException", "The task was cancelled.")
        else:
            output = load_json(
                net.OutputConverter.TaskResultToJson(self._task, limits.max_depth, limits.max_bytes), notes, "values"
            )
        notes.extend(dropped_notes(self._sink))
        records = drain(self._sink)
        self._cts.Dispose()
        self._task = None
        return Outcome(output, error, None, notes, records)
