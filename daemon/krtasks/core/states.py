"""The state machine: which state may follow which, and the one function that changes a task's state.

    NotStarted → (Queued →) Running → Completed | Failed | Stopping → Stopped | Failed

Cancel of NotStarted/Queued ends at once in Stopped; cancel of Running goes through Stopping. A restart
fails what was cut off (Queued, Running, Stopping → Failed/Interrupted) and NotStarted code that no
longer compiles (NotStarted → Failed). Finished states (Completed, Failed, Stopped) are final.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ..models import Progress, TaskData, TaskErrorInfo, TaskState

_S = TaskState

TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = {
    _S.NOT_STARTED: frozenset({_S.QUEUED, _S.RUNNING, _S.STOPPED, _S.FAILED}),
    _S.QUEUED: frozenset({_S.RUNNING, _S.STOPPED, _S.FAILED}),
    _S.RUNNING: frozenset({_S.STOPPING, _S.COMPLETED, _S.FAILED}),
    _S.STOPPING: frozenset({_S.STOPPED, _S.FAILED}),
    _S.COMPLETED: frozenset(),
    _S.FAILED: frozenset(),
    _S.STOPPED: frozenset(),
}
"""Allowed next states for each state."""


def reachable(old: TaskState, new: TaskState) -> bool:
    """True when ``new`` is ``old`` or can follow it through :data:`TRANSITIONS` (in one or more steps):
    a copy of a task in ``new`` may be newer than one in ``old``, never older."""
    seen, frontier = {old}, [old]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return new in seen


class IllegalTransitionError(RuntimeError):
    """A change the table does not allow was attempted: a bug in the core, never a user error."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """A state change that happened: from ``old`` to ``new``."""

    old: TaskState
    new: TaskState

    @property
    def ended_run(self) -> bool:
        """True when a run that had started (Running or Stopping) reached a final state."""
        return self.new.finished and self.old in (TaskState.RUNNING, TaskState.STOPPING)


def transition(
    data: TaskData,
    new: TaskState,
    now: datetime,
    *,
    progress: Progress | None = None,
    error: TaskErrorInfo | None = None,
) -> StateChange:
    """Move ``data`` to ``new``; the only code that assigns a task's state.

    Entering Running stamps StartedAt, entering a final state CompletedAt (each once, with ``now``, UTC).
    ``progress`` and ``error``, when given, are set in the same step.

    Raises:
        IllegalTransitionError: ``new`` may not follow the current state.
    """
    old = data.state
    if new not in TRANSITIONS[old]:
        raise IllegalTransitionError(f"task {data.id}: {old} → {new} is not allowed")
    if new == TaskState.RUNNING and data.started_at is None:
        data.started_at = now
    if new.finished and data.completed_at is None:
        data.completed_at = now
    if progress is not None:
        data.progress = progress
    if error is not None:
        data.error = error
    data.state = new
    return StateChange(old, new)
