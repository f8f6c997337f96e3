"""Durable task storage: the :class:`TaskStore` interface the core writes through.

The task service keeps its registry in memory and writes every change through a store, so a restart
(clean or ``kill -9``) loses nothing that was acknowledged. A store is write-mostly: the service reads it
once, at start (:meth:`TaskStore.load`). What a store persists is exactly
:class:`~krtasks.models.TaskData` (the durable part of a task) plus its stream records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..models import StreamRecord, TaskData


class StoreError(Exception):
    """The store cannot be used (unreadable, corrupt, newer schema, not a KrTasks store); the message says
    why and what to do. The file has been left untouched."""


@dataclass
class StoredTask:
    """A task as loaded from a store: its durable data and its stream records in index order."""

    data: TaskData
    records: list[StreamRecord] = field(default_factory=list)


StoredRecord = tuple[str, int, str, str, str]
"""A stream record to store: ``(task_id, index, stream, message, time_iso_utc)``."""


class TaskStore(Protocol):
    """Where the task service persists tasks. Implementations must apply writes in call order (a write
    issued after another is never committed before it) so a caller can fire several and await the last.

    Write methods take effect in order from the moment they are called and return an awaitable that
    completes once the write is durable (raising the backend's error if it failed). They must be called
    from the event loop thread.
    """

    async def load(self) -> list[StoredTask]:
        """Every stored task with its records, in creation order (``seq``)."""
        ...

    def put(self, tasks: Sequence[TaskData], records: Sequence[StoredRecord] = ()) -> Awaitable[None]:
        """Insert or replace these tasks' rows, then append ``records`` (as :meth:`add_records`), all in one
        transaction: a task created and started in one request costs one commit, and a finished task's
        row and its last records become durable together."""
        ...

    def add_records(self, records: Sequence[StoredRecord]) -> Awaitable[None]:
        """Append stream records; records of tasks no longer stored are dropped; a repeated
        ``(task_id, index)`` is ignored."""
        ...

    def delete(self, task_ids: Sequence[str]) -> Awaitable[None]:
        """Remove these tasks and their records (ids compare case-insensitively; unknown ids are ignored)."""
        ...

    async def close(self) -> None:
        """Commit what is queued and release the backend; idempotent."""
        ...
