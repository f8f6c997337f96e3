"""The task core: registry, state machine, slot queue, run supervisor, journal, event hub, restore and
retention, behind the :class:`~krtasks.core.service.TaskService` facade."""

from .entry import TaskEntry
from .service import TaskService

__all__ = ["TaskEntry", "TaskService"]
