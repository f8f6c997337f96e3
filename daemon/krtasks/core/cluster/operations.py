"""The commands of a node: they change the shared store first (under the task's row lock, with the same
rules and refusals as a single daemon's) and the mirror takes the written row in.

- create inserts the row (a taken id is refused by the database, whichever node has it); with AutoStart
  the task is inserted Queued and this node tries to claim at once;
- start moves NotStarted → Queued, then this node tries to claim;
- cancel ends a NotStarted or Queued task at once (Stopped), and asks the node running a Running task to
  stop it (``cancel_requested``; that node learns it by notification, or by its next poll);
- rename sets the name or description, whoever runs the task;
- remove deletes the subtree in one transaction once none of it runs (with ``force``, after cancelling
  and waiting for the runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from ...errors import TaskConflictError, TaskNotFoundError
from ...models import ServiceConfig, TaskRecordJson, TaskSpec, TaskState
from ...store.postgres import PostgresTaskStore
from ...store.postgres_schema import Row, key_of
from ..engineset import EngineSet
from ..entry import TaskEntry
from ..journal import NullJournal
from ..lifecycle import Lifecycle
from ..operations import TaskOperations, check_cancellable, check_rename, check_startable, still_running
from ..registry import Registry
from ..states import transition
from ..supervisor import CANCELLED_BEFORE_START
from .claims import ClaimingSupervisor
from .mirror import Mirror

log = logging.getLogger("krtasks.cluster")


class ClusterOperations(TaskOperations):
    """The commands over the shared store (see the module docstring)."""

    def __init__(
        self,
        config: ServiceConfig,
        registry: Registry,
        engines: EngineSet,
        lifecycle: Lifecycle,
        supervisor: ClaimingSupervisor,
        journal: NullJournal,
        clock: Callable[[], datetime],
        store: PostgresTaskStore,
        mirror: Mirror,
    ) -> None:
        super().__init__(config, registry, engines, lifecycle, supervisor, journal, clock)
        self._claims = supervisor
        self._store = store
        self._mirror = mirror

    async def _entry(self, task_id: str) -> TaskEntry:
        entry = await self._mirror.ensure(task_id)
        if entry is None:
            raise TaskNotFoundError(str(task_id))
        return entry

    async def _change(self, task_id: str, mutate: Callable[[Row], None]) -> TaskEntry:
        """Change the task's row (``mutate`` may refuse by raising) and take the result in."""
        changed = await self._store.change(task_id, mutate)
        if changed is None:
            self._mirror.removed([key_of(task_id)])
            raise TaskNotFoundError(str(task_id))
        entries = await self._mirror.apply([changed[1]])
        return entries[0] if entries else await self._entry(task_id)

    async def _claim(self) -> None:
        try:
            await self._claims.claim()
        except Exception as exc:  # the task stays Queued; a poll claims it
            log.warning("claiming after a start failed: %s", exc)

    async def create(self, spec: TaskSpec) -> TaskEntry:
        """Insert the task (Queued with AutoStart) and try to claim it here."""
        if spec.parent_id:
            await self._mirror.ensure(spec.parent_id)
        task = await self._build(spec)
        if spec.auto_start:
            transition(task.data, TaskState.QUEUED, self._clock())
        try:
            row = await self._store.insert(task.data, queued=spec.auto_start)
        except BaseException:
            self._engines.release(task)
            raise
        if row is None:
            self._engines.release(task)
            raise TaskConflictError(f"A task with id '{task.id}' already exists.")
        entry = (await self._mirror.apply([row]) or [task])[0]
        if entry.prepared is None and entry.state in (TaskState.NOT_STARTED, TaskState.QUEUED):
            entry.prepared, task.prepared = task.prepared, None
        self._engines.release(task)
        if spec.auto_start:
            await self._claim()
        return entry

    async def start(self, task_id: str) -> TaskRecordJson:
        """Queue the NotStarted task, then try to claim it here."""

        def queue(row: Row) -> None:
            check_startable(row.data)
            transition(row.data, TaskState.QUEUED, self._clock())

        entry = await self._change(task_id, queue)
        await self._claim()
        return entry.record()

    async def cancel(self, task_id: str) -> TaskRecordJson:
        """Stop a run of this node; end an unstarted task; or ask the node running it to stop it."""
        entry = await self._entry(task_id)
        if entry.run is not None:
            return await super().cancel(task_id)

        def cancel(row: Row) -> None:
            check_cancellable(row.data)
            if row.data.state in (TaskState.NOT_STARTED, TaskState.QUEUED):
                ended = row.data.progress.ended(CANCELLED_BEFORE_START)
                transition(row.data, TaskState.STOPPED, self._clock(), progress=ended)
            elif row.data.state == TaskState.RUNNING:
                row.cancel_requested = True

        return (await self._change(task_id, cancel)).record()

    async def rename(self, task_id: str, name: str | None, description: str | None) -> TaskRecordJson:
        """Set the name and/or description in the store."""
        check_rename(name, description)

        def rename(row: Row) -> None:
            if name is not None:
                row.data.name = name.strip()
            if description is not None:
                row.data.description = description

        return (await self._change(task_id, rename)).record()

    async def remove(self, task_id: str, force: bool) -> list[str]:
        """Delete the subtree once none of it runs (cancelling and waiting first with ``force``)."""
        task = await self._entry(task_id)
        subtree = self._registry.subtree(task)
        active = [t for t in subtree if t.state.active]
        if active and not force:
            raise still_running(task.id)
        for t in active:
            with contextlib.suppress(TaskConflictError, TaskNotFoundError):  # ended or gone meanwhile
                await self.cancel(t.id)
        if active:
            await asyncio.gather(*(t.done.wait() for t in active))

        def may_remove(rows: list[Row]) -> None:
            if any(r.data.state.active for r in rows):
                raise still_running(task.id)

        deleted = await self._store.remove([key_of(t.id) for t in subtree], may_remove)
        if key_of(task.id) not in deleted:
            self._mirror.removed([key_of(task.id)])
            raise TaskNotFoundError(str(task_id))
        self._mirror.forget(subtree)
        return [t.id for t in subtree]
