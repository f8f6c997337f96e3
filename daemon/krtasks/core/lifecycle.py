"""Changes to a task and their announcement: every change goes through here, then to the observers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import cast

from ..engines.base import RawRecord, StepReport
from ..models import Progress, StreamName, StreamRecord, TaskErrorInfo, TaskState
from ..records import iso
from .entry import TaskEntry
from .observers import Observers
from .states import StateChange, transition


class Lifecycle:
    """Applies changes to tasks (state through :func:`~krtasks.core.states.transition`, progress, records,
    names) and tells the observers, in that order. ``clock`` gives UTC "now"."""

    def __init__(self, observers: Observers, clock: Callable[[], datetime]) -> None:
        self.observers = observers
        self.clock = clock

    def created(self, task: TaskEntry) -> None:
        """Announce a newly registered task."""
        self.observers.created(task)

    def move(
        self, task: TaskEntry, state: TaskState, *, progress: Progress | None = None, error: TaskErrorInfo | None = None
    ) -> StateChange:
        """Change the task's state (with progress and error, when given) and tell the observers."""
        change = transition(task.data, state, self.clock(), progress=progress, error=error)
        self.observers.changed(task, change)
        return change

    def observe(self, task: TaskEntry, report: StepReport) -> None:
        """Take in a step's records and progress."""
        self.append(task, report.records)
        if report.progress is not None and report.progress != task.data.progress:
            task.data.progress = report.progress
            self.observers.progressed(task)

    def append(self, task: TaskEntry, raw: Sequence[RawRecord]) -> None:
        """Number and keep stream records, then announce them."""
        if not raw:
            return
        start = len(task.records)
        new = [
            StreamRecord(start + i, cast(StreamName, stream), message, when)
            for i, (stream, message, when) in enumerate(raw)
        ]
        task.records.extend(new)
        self.observers.wrote(task, new)

    def note(self, task: TaskEntry, message: str) -> None:
        """Add a note of the core's own to the task's Warning stream (stamped now)."""
        self.append(task, [("Warning", message, iso(self.clock()) or "")])

    def rename(self, task: TaskEntry, name: str | None, description: str | None) -> None:
        """Set the name and/or description and tell the observers."""
        if name is not None:
            task.data.name = name
        if description is not None:
            task.data.description = description
        self.observers.updated(task)

    def removed(self, subtree: Sequence[TaskEntry]) -> None:
        """Tell the observers that these tasks are gone."""
        self.observers.removed(subtree)
