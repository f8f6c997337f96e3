"""What a language engine hands the task service: a running piece of code it can wait on and stop.

The service drives every :class:`Execution` from executor threads only (never the event loop):
``step`` blocks up to a few hundred ms, ``finish`` converts the result. ``stop`` must not block.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

STREAMS = ("Error", "Warning", "Verbose", "Debug", "Information")
"""Stream names kept per task (PowerShell's; C#/VB console output lands in Information and Error)."""


@dataclass
class StepResult:
    """One observation of a running task.

    ``records``: new stream records as ``(stream, message, time_iso_utc)``;
    ``progress``: ``(percent, status, activity, operation, seconds_remaining, version)``.
    """

    ended: bool
    records: list[tuple[str, str, str]]
    progress: tuple[int, str, str | None, str | None, int | None, int]


@dataclass
class Outcome:
    """How the code ended: its output (JSON value), its error (record ``Error`` dict or None),
    whether it tried to prompt for input (the prompt's message), notes to add to the Warning stream, and
    stream records written after the last step."""

    output: Any
    error: dict[str, Any] | None
    prompt: str | None = None
    notes: list[str] = field(default_factory=list)
    records: list[tuple[str, str, str]] = field(default_factory=list)


class Execution(Protocol):
    """A started task's code (one per run)."""

    def step(self, wait_ms: int) -> StepResult:
        """Wait up to ``wait_ms`` milliseconds for the end, then report records and progress."""
        ...

    def stop(self) -> None:
        """Ask the code to stop (pipeline stop or cancellation token); returns at once."""
        ...

    def finish(self) -> Outcome:
        """After ``step`` reported the end: the output and error. Releases per-run resources."""
        ...


class CapturedExecution:
    """What every engine's execution keeps: the task's .NET ``StreamSink`` and ``TaskProgress`` and the
    output bounds (depth, bytes). ``report`` turns a wait's result into a :class:`StepResult`."""

    def __init__(self, sink: Any, progress: Any, depth: int, max_bytes: int) -> None:
        self._sink = sink
        self._progress = progress
        self._depth = depth
        self._max_bytes = max_bytes

    def report(self, ended: bool) -> StepResult:
        """The records written since the last report and a progress snapshot, with ``ended``."""
        return StepResult(ended, drain(self._sink), progress_tuple(self._progress))


def error_dict(info: Any) -> dict[str, Any]:
    """Convert a .NET ``KrTasks.Runtime.ErrorInfo`` to the record's ``Error`` shape."""
    return {
        "Type": str(info.Type),
        "Message": str(info.Message),
        "Category": None if info.Category is None else str(info.Category),
        "StackTrace": None if info.StackTrace is None else str(info.StackTrace),
        "Line": None if info.Line is None else int(info.Line),
        "Column": None if info.Column is None else int(info.Column),
    }


def diagnostics_list(diagnostics: Any) -> list[dict[str, Any]]:
    """Convert .NET ``CompileDiagnostic`` items to ``{Id, Severity, Message, Line, Column}`` dicts."""
    return [
        {
            "Id": str(d.Id),
            "Severity": str(d.Severity),
            "Message": str(d.Message),
            "Line": None if d.Line is None else int(d.Line),
            "Column": None if d.Column is None else int(d.Column),
        }
        for d in diagnostics
    ]


def drain(sink: Any) -> list[tuple[str, str, str]]:
    """Move the records waiting in a .NET ``StreamSink`` into Python tuples (stream, message, ISO time)."""
    if not sink.HasPending:
        return []
    return [(str(r.Stream), str(r.Message), r.Time.ToString("o")[:26] + "Z") for r in sink.Drain()]


def progress_tuple(progress: Any) -> tuple[int, str, str | None, str | None, int | None, int]:
    """Snapshot a .NET ``TaskProgress`` (one call, one lock) as a Python tuple."""
    s = progress.Snapshot()
    return (
        int(s[0]), str(s[1]),
        None if s[2] is None else str(s[2]),
        None if s[3] is None else str(s[3]),
        None if s[4] is None else int(s[4]),
        int(s[5]),
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
