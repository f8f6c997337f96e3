"""The observer interface: the journal, the event hub and the metrics follow tasks through it.

:class:`Observers` calls each observer in order (the journal first, so that a change is on its way to
the store before anything announces it); an observer that fails is logged with its name and the others
still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..models import StreamRecord
from .entry import TaskEntry
from .states import StateChange

log = logging.getLogger("krtasks.core")


class TaskObserver:
    """Base of every observer; each method is a no-op unless overridden. Called on the event loop."""

    name = "observer"

    def created(self, task: TaskEntry) -> None:
        """``task`` was registered (NotStarted)."""

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """``task`` changed state (its data already shows the new state, timestamps, progress, error)."""

    def updated(self, task: TaskEntry) -> None:
        """``task``'s name or description changed."""

    def progressed(self, task: TaskEntry) -> None:
        """``task``'s progress changed while it runs."""

    def wrote(self, task: TaskEntry, records: Sequence[StreamRecord]) -> None:
        """``task`` has new stream records (already appended to ``task.records``)."""

    def abandoned(self, task: TaskEntry) -> None:
        """``task``'s code ignored a stop for the grace period and was abandoned (or killed)."""

    def removed(self, tasks: Sequence[TaskEntry]) -> None:
        """These tasks (a subtree, root first) were unregistered."""


class Observers(TaskObserver):
    """Fans every call out to ``observers`` in order, isolating their failures."""

    name = "observers"

    def __init__(self, observers: Sequence[TaskObserver]) -> None:
        self._observers = list(observers)

    def _each(self, call: Callable[[TaskObserver], None], what: str) -> None:
        for observer in self._observers:
            try:
                call(observer)
            except Exception:  # one observer's bug must not cost the others (or the task) their update
                log.exception("observer %s failed on %s", observer.name, what)

    def created(self, task: TaskEntry) -> None:
        """See :meth:`TaskObserver.created`."""
        self._each(lambda o: o.created(task), "created")

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """See :meth:`TaskObserver.changed`."""
        self._each(lambda o: o.changed(task, change), f"state {change.new}")

    def updated(self, task: TaskEntry) -> None:
        """See :meth:`TaskObserver.updated`."""
        self._each(lambda o: o.updated(task), "updated")

    def progressed(self, task: TaskEntry) -> None:
        """See :meth:`TaskObserver.progressed`."""
        self._each(lambda o: o.progressed(task), "progressed")

    def wrote(self, task: TaskEntry, records: Sequence[StreamRecord]) -> None:
        """See :meth:`TaskObserver.wrote`."""
        self._each(lambda o: o.wrote(task, records), "wrote")

    def abandoned(self, task: TaskEntry) -> None:
        """See :meth:`TaskObserver.abandoned`."""
        self._each(lambda o: o.abandoned(task), "abandoned")

    def removed(self, tasks: Sequence[TaskEntry]) -> None:
        """See :meth:`TaskObserver.removed`."""
        self._each(lambda o: o.removed(tasks), "removed")
