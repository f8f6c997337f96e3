"""Task records and results shaped as Kestrun's tutorial serves them (``ConvertTo-Json`` of its objects).

The REST API keeps its own clean JSON (state names, ISO 8601 ``Z`` times, Duration as a TimeSpan string);
the tutorial routes answer what a Kestrun client already parses:

- ``State`` is the ``TaskState`` enum's number (:data:`STATE_NUMBERS`, Kestrun's plus Queued 6) and
  ``StateText`` its name;
- ``StartedAt``/``CompletedAt`` are ``DateTimeOffset`` strings, UTC with seven fraction digits:
  ``2026-04-26T17:55:44.1234560+00:00``;
- ``Duration`` is a ``TimeSpan`` object (Ticks, Days, ..., TotalSeconds; :func:`timespan_object`) or null;
- ``Progress`` starts with ``PercentComplete`` and ``StatusMessage``.

Kestrun's fields come first, in its order; KrTasks' own (Language, CreatedAt, TimeoutSeconds, Error and the
extra Progress fields) follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..models import Language, TaskState
from ..records import parse_iso

STATE_NUMBERS: dict[str, int] = {
    TaskState.NOT_STARTED: 0,
    TaskState.RUNNING: 1,
    TaskState.COMPLETED: 2,
    TaskState.FAILED: 3,
    TaskState.STOPPED: 4,
    TaskState.STOPPING: 5,
    TaskState.QUEUED: 6,
}
"""``[KrTasks.TaskState]`` numbers: Kestrun's ``TaskState`` (NotStarted 0 … Stopping 5) plus Queued 6."""

TICKS_PER_MICROSECOND = 10
TICKS_PER_MILLISECOND = 10_000
TICKS_PER_SECOND = 10_000_000
TICKS_PER_MINUTE = 60 * TICKS_PER_SECOND
TICKS_PER_HOUR = 60 * TICKS_PER_MINUTE
TICKS_PER_DAY = 24 * TICKS_PER_HOUR

_KESTRUN_FIELDS = (
    "Id",
    "Name",
    "Description",
    "State",
    "StartedAt",
    "CompletedAt",
    "Progress",
    "ParentId",
    "ChildrenId",
    "StateText",
    "Duration",
)


def offset_time(value: datetime | None) -> str | None:
    """A UTC ``DateTimeOffset`` string with seven fraction digits and ``+00:00``, or None."""
    if value is None:
        return None
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond * TICKS_PER_MICROSECOND:07d}+00:00"


def _trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero, as C#'s ``/`` on longs."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _trunc_mod(a: int, b: int) -> int:
    """The remainder of :func:`_trunc_div` (sign of ``a``), as C#'s ``%``."""
    return a - _trunc_div(a, b) * b


def timespan_object(ticks: int) -> dict[str, int | float]:
    """The properties of a .NET ``TimeSpan`` of ``ticks`` (100 ns), in ``ConvertTo-Json``'s order."""
    return {
        "Ticks": ticks,
        "Days": _trunc_div(ticks, TICKS_PER_DAY),
        "Hours": _trunc_mod(_trunc_div(ticks, TICKS_PER_HOUR), 24),
        "Milliseconds": _trunc_mod(_trunc_div(ticks, TICKS_PER_MILLISECOND), 1000),
        "Microseconds": _trunc_mod(_trunc_div(ticks, TICKS_PER_MICROSECOND), 1000),
        "Nanoseconds": _trunc_mod(ticks, TICKS_PER_MICROSECOND) * 100,
        "Minutes": _trunc_mod(_trunc_div(ticks, TICKS_PER_MINUTE), 60),
        "Seconds": _trunc_mod(_trunc_div(ticks, TICKS_PER_SECOND), 60),
        "TotalDays": ticks / TICKS_PER_DAY,
        "TotalHours": ticks / TICKS_PER_HOUR,
        "TotalMilliseconds": ticks / TICKS_PER_MILLISECOND,
        "TotalMicroseconds": ticks / TICKS_PER_MICROSECOND,
        "TotalNanoseconds": float(ticks * 100),
        "TotalMinutes": ticks / TICKS_PER_MINUTE,
        "TotalSeconds": ticks / TICKS_PER_SECOND,
    }


def _ticks_between(started: datetime, completed: datetime) -> int:
    delta = completed - started
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * TICKS_PER_MICROSECOND


def kestrun_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """An API record (``TaskEntry.record()``) as Kestrun's tutorial serves a task: see the module doc."""
    started = parse_iso(record.get("StartedAt"))
    completed = parse_iso(record.get("CompletedAt"))
    state = str(record["State"])
    progress = dict(record.get("Progress") or {})
    shaped: dict[str, Any] = {
        "Id": record["Id"],
        "Name": record["Name"],
        "Description": record["Description"],
        "State": STATE_NUMBERS[state],
        "StartedAt": offset_time(started),
        "CompletedAt": offset_time(completed),
        "Progress": {
            "PercentComplete": progress.pop("PercentComplete", 0),
            "StatusMessage": progress.pop("StatusMessage", ""),
            **progress,
        },
        "ParentId": record.get("ParentId", ""),
        "ChildrenId": list(record.get("ChildrenId") or []),
        "StateText": state,
        "Duration": None
        if started is None or completed is None
        else timespan_object(_ticks_between(started, completed)),
    }
    for key, value in record.items():
        if key in _KESTRUN_FIELDS:
            continue
        shaped[key] = offset_time(parse_iso(value)) if key == "CreatedAt" and value is not None else value
    return shaped


def kestrun_output(language: str, output: Any) -> Any:
    """A finished task's output as Kestrun returns it: a PowerShell task's output objects unrolled (none →
    null, one → that object, several → the list); a C# or VB task's value as it is."""
    if language != Language.POWERSHELL or not isinstance(output, list):
        return output
    if not output:
        return None
    return output[0] if len(output) == 1 else output
