"""Run history: how many runs ended Completed or Failed in each UTC minute of the last 24 hours.

It counts state changes as they happen (and, when the service opens, the finished tasks restored from the
store), so removing a task later does not change the past; it ends with the daemon except for what the
store restores.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ..models import MinuteRunsJson, TaskState
from ..records import iso
from .entry import TaskEntry
from .observers import TaskObserver
from .states import StateChange

KEPT_MINUTES = 24 * 60
"""How far back the history goes (minutes)."""

_COUNTED = (TaskState.COMPLETED, TaskState.FAILED)


def _minute(when: datetime) -> int:
    return int(when.timestamp() // 60)


class RunHistory(TaskObserver):
    """Per-minute counts of runs that ended Completed or Failed (see the module docstring)."""

    name = "history"

    def __init__(self) -> None:
        self._minutes: dict[int, list[int]] = {}
        """Minute since the epoch → ``[completed, failed]``."""

    def _count(self, task: TaskEntry) -> None:
        d = task.data
        if d.state not in _COUNTED or d.completed_at is None:
            return
        minute = _minute(d.completed_at)
        self._minutes.setdefault(minute, [0, 0])[_COUNTED.index(d.state)] += 1
        if len(self._minutes) > KEPT_MINUTES:
            newest = max(self._minutes)
            for old in [m for m in self._minutes if m <= newest - KEPT_MINUTES]:
                del self._minutes[old]

    def seed(self, tasks: Iterable[TaskEntry]) -> None:
        """Count the finished tasks already there (restored from the store)."""
        for task in tasks:
            self._count(task)

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """Count a task that reached Completed or Failed."""
        self._count(task)

    def failed_since(self, now: datetime, minutes: int = KEPT_MINUTES) -> int:
        """Runs that ended Failed in the ``minutes`` up to ``now`` (the current minute included)."""
        first = _minute(now) - minutes + 1
        return sum(counts[1] for minute, counts in self._minutes.items() if minute >= first)

    def per_minute(self, now: datetime, minutes: int = 60) -> list[MinuteRunsJson]:
        """``{Minute, Completed, Failed}`` for each of the last ``minutes`` minutes, oldest first, the current
        (partial) minute last."""
        last = _minute(now)
        out: list[MinuteRunsJson] = []
        for minute in range(last - minutes + 1, last + 1):
            completed, failed = self._minutes.get(minute, (0, 0))
            start = datetime.fromtimestamp(minute * 60, UTC)
            out.append({"Minute": iso(start) or "", "Completed": completed, "Failed": failed})
        return out
