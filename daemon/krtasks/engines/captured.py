"""What every .NET-hosting engine shares: the synchronous engine contract, and reading a run's .NET
``StreamSink`` and ``TaskProgress`` into the core's types.

Synchronous engines (:class:`SyncEngine`) do the .NET work on the calling thread: the thread-isolation
adapter (:mod:`krtasks.engines.threaded`) calls them from executor threads, a worker process from its own
threads. ``step`` blocks up to a few hundred ms, ``finish`` converts the result, ``stop`` must not block.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import CompileError, TaskValidationError
from ..models import Progress, TaskErrorInfo
from .base import CodeRequest, LaunchRequest, Outcome, OutputLimits, Prepared, RawRecord, StepReport

if TYPE_CHECKING:
    from ..models import Language


class SyncExecution(Protocol):
    """A started run, driven from one thread at a time (see :class:`krtasks.engines.base.Execution`)."""

    def step(self, wait_ms: int) -> StepReport:
        """Wait up to ``wait_ms`` milliseconds for the end, then report records and progress."""
        ...

    def stop(self) -> None:
        """Ask the code to stop; returns at once."""
        ...

    def finish(self) -> Outcome:
        """After ``step`` reported the end: the output and error. Releases per-run resources."""
        ...


class SyncEngine(Protocol):
    """A language engine whose calls block the calling thread (see :class:`krtasks.engines.base.Engine`)."""

    @property
    def language(self) -> Language:
        """The language this engine runs."""
        ...

    def prepare(self, request: CodeRequest) -> Prepared:
        """Parse or compile; raises :class:`~krtasks.errors.CompileError`."""
        ...

    def launch(self, prepared: Prepared, request: LaunchRequest) -> SyncExecution:
        """Start a run of ``prepared``."""
        ...

    def release(self, prepared: Prepared) -> None:
        """Drop one hold on ``prepared``."""
        ...

    def warm_up(self) -> None:
        """Do the optional warm-up work now (blocking)."""
        ...

    def close(self) -> None:
        """Release everything."""
        ...


class CapturedExecution:
    """What every engine's execution keeps: the run's .NET ``StreamSink`` and ``TaskProgress`` and the
    output limits. ``report`` turns a wait's result into a :class:`StepReport`, with the progress only
    when it changed since the previous report."""

    def __init__(self, sink: Any, progress: Any, limits: OutputLimits) -> None:
        self._sink = sink
        self._progress = progress
        self._limits = limits
        self._progress_version = -1

    def report(self, ended: bool) -> StepReport:
        """The records written since the last report and the progress if it moved, with ``ended``."""
        snapshot = self._progress.Snapshot()
        version = int(snapshot[5])
        progress = None
        if version != self._progress_version:
            self._progress_version = version
            progress = progress_of(snapshot)
        return StepReport(ended, drain(self._sink), progress)


def net_arguments(net: Any, request: CodeRequest) -> Any:
    """The request's arguments as the .NET dictionary task code gets: from its CliXml when it came in that
    form (types kept), else from its JSON.

    Raises:
        krtasks.errors.TaskValidationError: CliXml arguments that do not deserialize to a hashtable.
    """
    if request.arguments_clixml is None:
        return net.TaskArguments.FromJson(request.arguments_json)
    try:
        return net.TaskArguments.FromCliXml(request.arguments_clixml)
    except Exception as exc:  # .NET's ArgumentException, through pythonnet
        raise TaskValidationError("Arguments", f"the CliXml arguments do not deserialize: {exc}") from None


def new_progress(net: Any) -> Any:
    """A run's .NET ``TaskProgress``, saying "Running" until the code says more."""
    progress = net.TaskProgress()
    progress.StatusMessage = "Running"
    return progress


def error_info(info: Any) -> TaskErrorInfo:
    """Convert a .NET ``KrTasks.Runtime.ErrorInfo`` to the record's error."""
    return TaskErrorInfo(
        type=str(info.Type),
        message=str(info.Message),
        category=None if info.Category is None else str(info.Category),
        stack_trace=None if info.StackTrace is None else str(info.StackTrace),
        line=None if info.Line is None else int(info.Line),
        column=None if info.Column is None else int(info.Column),
    )


def compile_error(language: Language, diagnostics: Any) -> CompileError:
    """A :class:`CompileError` from .NET ``CompileDiagnostic`` items (``{Id, Severity, Message, Line, Column}``)."""
    return CompileError(
        language.value,
        [
            {
                "Id": str(d.Id),
                "Severity": str(d.Severity),
                "Message": str(d.Message),
                "Line": None if d.Line is None else int(d.Line),
                "Column": None if d.Column is None else int(d.Column),
            }
            for d in diagnostics
        ],
    )


def drain(sink: Any) -> list[RawRecord]:
    """Move the records waiting in a .NET ``StreamSink`` into Python tuples (stream, message, ISO time)."""
    if not sink.HasPending:
        return []
    return [(str(r.Stream), str(r.Message), r.Time.ToString("o")[:26] + "Z") for r in sink.Drain()]


def progress_of(snapshot: Any) -> Progress:
    """A .NET ``TaskProgress.Snapshot()`` (one call, one lock) as :class:`Progress`."""
    return Progress(
        int(snapshot[0]),
        str(snapshot[1]),
        None if snapshot[2] is None else str(snapshot[2]),
        None if snapshot[3] is None else str(snapshot[3]),
        None if snapshot[4] is None else int(snapshot[4]),
    )


def load_json(converted: Any, notes: list[str], what: str) -> Any:
    """Parse the JSON text of an ``OutputConverter.Converted``; note a truncation in ``notes``."""
    if converted.Truncated:
        notes.append(
            f"Output was truncated: {converted.Items} of {converted.TotalItems} {what} kept (size limit reached)."
        )
    return json.loads(str(converted.Json))


def dropped_notes(sink: Any) -> list[str]:
    """Warning notes for records a ``StreamSink`` dropped once a stream reached its limit."""
    notes = []
    for entry in sink.Dropped:
        stream, _, count = str(entry).partition("=")
        notes.append(f"{count} {stream} records were dropped (limit {sink.LimitPerStream} per stream).")
    return notes
