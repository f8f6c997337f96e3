"""C# and VB.NET engines (Roslyn, synchronous). Code is compiled when a task is created; identical code with
the same argument types, imports and references is compiled once and shared.

Compilation produces an image (assembly bytes); the image is loaded where the task runs, in its own
collectible AssemblyLoadContext. A cache entry is held by the tasks that use it; entries no task holds
stay in an LRU of ``cache_size`` and are unloaded when they fall out, so distinct ad-hoc scripts do not
accumulate (Roslyn's own scripting API would load every script into a context that is never freed).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

from ..models import Language, TaskErrorInfo
from ..runtime import NetTypes
from .base import CodeRequest, LaunchRequest, Outcome, OutputLimits, Prepared, StepReport
from .cache import HeldCache
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

_warm_up_lock = threading.Lock()
_warmed_up = False

CacheKey = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]
"""(language, code, argument signature, imports, references)."""


class RoslynCompiler:
    """Compiles C# or VB.NET to a .NET ``ScriptImage`` (assembly bytes, loaded nowhere yet). Thread-safe."""

    def __init__(self, net: NetTypes, language: Language) -> None:
        self._net = net
        self.language = language

    def key(self, request: CodeRequest) -> tuple[CacheKey, Any]:
        """The compile-cache key of ``request`` and its arguments as a .NET dictionary."""
        arguments = net_arguments(self._net, request)
        signature = str(self._net.TaskArguments.Signature(arguments))
        return (self.language.value, request.code, signature, request.extra_imports, request.extra_refs), arguments

    def compile(self, request: CodeRequest, arguments: Any) -> Any:
        """The image of ``request``'s code.

        Raises:
            CompileError: with Roslyn's diagnostics (CSxxxx / BCxxxx, 1-based lines in the user's code).
        """
        compiler = self._net.ScriptCompiler
        compile_fn = compiler.CompileCSharp if self.language == Language.CSHARP else compiler.CompileVisualBasic
        result = compile_fn(request.code, arguments, list(request.extra_imports), list(request.extra_refs))
        if not result.Success:
            raise compile_error(self.language, result.Diagnostics)
        return result.Image

    def warm_up(self) -> None:
        """Compile once (C# and VB, once per process) so that later compiles skip the cold JIT of the
        compiler (~3 s on 2 cores)."""
        global _warmed_up
        with _warm_up_lock:
            if not _warmed_up:
                _warmed_up = True
                self._net.ScriptCompiler.WarmUp()


@dataclass(frozen=True, slots=True)
class RoslynScript:
    """The prepared handle of a C#/VB task (thread isolation): its compile-cache key and its arguments (a
    .NET dictionary)."""

    key: CacheKey
    arguments: Any


def start_script(
    net: NetTypes, compiled: Any, arguments: Any, task_id: str, limits: OutputLimits, clixml_depth: int | None = None
) -> RoslynExecution:
    """Start a loaded ``CompiledScript`` on the .NET thread pool with a new ``TaskProgress``; ``clixml_depth``:
    also keep the result as CliXml."""
    sink = net.StreamSink(limits.stream_records)
    progress = new_progress(net)
    cts = net.CancellationTokenSource()
    globals_ = net.TaskGlobals(task_id, progress, arguments, cts.Token)
    task = compiled.Start(globals_, sink)
    return RoslynExecution(net, task, cts, sink, progress, str(compiled.File), limits, clixml_depth)


class RoslynEngine:
    """Compiles C# or VB.NET and runs it in this process (a :class:`SyncEngine`). Compiled scripts are loaded
    once per cache key, held by the tasks that use them, and unloaded when they fall out of the LRU of
    ``cache_size`` unheld ones. Thread-safe."""

    def __init__(self, net: NetTypes, language: Language, cache_size: int, limits: OutputLimits) -> None:
        self._net = net
        self._compiler = RoslynCompiler(net, language)
        self._limits = limits
        self._scripts: HeldCache[CacheKey, Any] = HeldCache(cache_size, lambda script: script.Unload())
        self.compilations = 0
        """Compilations done (cache misses), for tests and metrics."""

    @property
    def language(self) -> Language:
        """CSharp or VBNet."""
        return self._compiler.language

    def prepare(self, request: CodeRequest) -> Prepared:
        """Compile (or reuse) the code, load it, and hold it for one task.

        Raises:
            CompileError: with Roslyn's diagnostics.
        """
        key, arguments = self._compiler.key(request)
        if self._scripts.hold(key) is not None:
            return Prepared(RoslynScript(key, arguments), compiled=False)
        image = self._compiler.compile(request, arguments)
        self._scripts.add(key, image.Load())
        self.compilations += 1
        return Prepared(RoslynScript(key, arguments), compiled=True)

    def release(self, prepared: Prepared) -> None:
        """Drop one task's hold on its script; unheld scripts beyond the LRU size are unloaded."""
        script = prepared.handle
        assert isinstance(script, RoslynScript)
        self._scripts.release(script.key)

    @property
    def loaded_scripts(self) -> int:
        """Scripts currently loaded (held by tasks or idle in the LRU)."""
        return self._scripts.loaded

    @property
    def held_scripts(self) -> int:
        """Scripts held by at least one task."""
        return self._scripts.held

    def launch(self, prepared: Prepared, request: LaunchRequest) -> RoslynExecution:
        """Start the held script on the .NET thread pool."""
        script = prepared.handle
        assert isinstance(script, RoslynScript)
        compiled = self._scripts.get(script.key)
        return start_script(self._net, compiled, script.arguments, request.task_id, self._limits, request.clixml_depth)

    def warm_up(self) -> None:
        """See :meth:`RoslynCompiler.warm_up`."""
        self._compiler.warm_up()

    def close(self) -> None:
        """Unload every idle script."""
        self._scripts.clear_idle()


class RoslynExecution(CapturedExecution):
    """One running C#/VB script (see :class:`krtasks.engines.captured.SyncExecution`)."""

    def __init__(
        self,
        net: NetTypes,
        task: Any,
        cts: Any,
        sink: Any,
        progress: Any,
        file: str,
        limits: OutputLimits,
        clixml_depth: int | None = None,
    ) -> None:
        super().__init__(sink, progress, limits)
        self._net = net
        self._task = task
        self._cts = cts
        self._file = file
        self._clixml_depth = clixml_depth

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
        clixml = None
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
            if self._clixml_depth is not None:
                clixml = str(net.OutputConverter.TaskResultToCliXml(self._task, self._clixml_depth, limits.max_bytes))
        notes.extend(dropped_notes(self._sink))
        records = drain(self._sink)
        self._cts.Dispose()
        self._task = None
        return Outcome(output, error, None, notes, records, clixml)
