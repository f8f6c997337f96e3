"""The mutating commands: creating, starting, cancelling, removing and renaming tasks (their rules and
refusals). The facade (:class:`~krtasks.core.service.TaskService`) runs each as a tracked command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from ..errors import TaskConflictError, TaskValidationError
from ..models import ServiceConfig, TaskData, TaskRecordJson, TaskSpec, TaskState
from .engineset import EngineSet
from .entry import TaskEntry
from .journal import NullJournal
from .lifecycle import Lifecycle
from .registry import Registry
from .supervisor import RunSupervisor
from .validation import validate


def check_startable(data: TaskData) -> None:
    """Raises :class:`TaskConflictError` unless the task is NotStarted."""
    if data.state != TaskState.NOT_STARTED:
        raise TaskConflictError(f"Task '{data.id}' is {data.state.value}; only a NotStarted task can start.")


def check_cancellable(data: TaskData) -> None:
    """Raises :class:`TaskConflictError` when the task has finished."""
    if data.state.finished:
        raise TaskConflictError(f"Task '{data.id}' is already {data.state.value}; there is nothing to cancel.")


def still_running(task_id: str) -> TaskConflictError:
    """The refusal to remove a task whose subtree still runs."""
    return TaskConflictError(
        f"Task '{task_id}' or one of its children is still running; cancel it first or pass Force=true."
    )


def check_rename(name: str | None, description: str | None) -> None:
    """Raises :class:`TaskValidationError` for neither value given, or a blank one."""
    if name is None and description is None:
        raise TaskValidationError("Name", "give Name, Description or both")
    if name is not None and not name.strip():
        raise TaskValidationError("Name", "must not be blank")
    if description is not None and not description.strip():
        raise TaskValidationError("Description", "must not be blank")


class TaskOperations:
    """What each command does; every change goes through the lifecycle, and each answer waits until the
    change is durable."""

    def __init__(
        self,
        config: ServiceConfig,
        registry: Registry,
        engines: EngineSet,
        lifecycle: Lifecycle,
        supervisor: RunSupervisor,
        journal: NullJournal,
        clock: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._registry = registry
        self._engines = engines
        self._life = lifecycle
        self._supervisor = supervisor
        self._journal = journal
        self._clock = clock

    async def create(self, spec: TaskSpec) -> TaskEntry:
        """Validate, prepare (parse/compile) and register the task; start it with AutoStart (see
        :meth:`krtasks.core.service.TaskService.create`). Created and started, its row is one write."""
        task = await self._build(spec)
        self._registry.add(task)
        self._life.created(task)
        if spec.auto_start:
            self._supervisor.start(task)
        await self._journal.durable(task)
        return task

    async def _build(self, spec: TaskSpec) -> TaskEntry:
        """The new task, validated and prepared, not registered yet.

        Raises:
            TaskValidationError, TaskUnprocessableError, TaskConflictError, CompileError: as ``create``.
        """
        valid = validate(spec, self._registry, self._config)
        with self._registry.reserve(valid.id):
            prepared = await self._engines.prepare(
                valid.language,
                valid.code,
                valid.arguments,
                valid.extra_imports,
                valid.extra_refs,
                valid.arguments_clixml,
            )
        parent = self._registry.find(valid.parent.id) if valid.parent is not None else None
        return TaskEntry(
            TaskData(
                id=valid.id,
                seq=self._registry.next_seq(),
                name=valid.name,
                description=valid.description,
                language=valid.language,
                code=valid.code,
                arguments=valid.arguments,
                timeout_seconds=valid.timeout_seconds,
                parent_id=parent.id if parent is not None else "",
                extra_imports=valid.extra_imports,
                extra_refs=valid.extra_refs,
                created_at=self._clock(),
                isolation=valid.isolation,
                max_memory_mb=valid.max_memory_mb,
                working_directory=valid.working_directory,
                environment=valid.environment,
                arguments_clixml=valid.arguments_clixml,
                clixml_depth=valid.clixml_depth,
                reuse_runspace=valid.reuse_runspace,
            ),
            prepared=prepared,
        )

    async def start(self, task_id: str) -> TaskRecordJson:
        """Start a NotStarted task (refused otherwise)."""
        task = self._registry.get(task_id)
        check_startable(task.data)
        self._supervisor.start(task)
        await self._journal.durable(task)
        return task.record()

    async def cancel(self, task_id: str) -> TaskRecordJson:
        """Cancel a task that has not finished (refused otherwise)."""
        task = self._registry.get(task_id)
        check_cancellable(task.data)
        self._supervisor.cancel(task)
        await self._journal.durable(task)
        return task.record()

    async def remove(self, task_id: str, force: bool) -> list[str]:
        """Remove the task with its subtree (refused while some of it runs, unless ``force``)."""
        task = self._registry.get(task_id)
        subtree = self._registry.subtree(task)
        active = [t for t in subtree if t.state.active]
        if active:
            if not force:
                raise still_running(task.id)
            for t in active:
                self._supervisor.cancel(t)
            await asyncio.gather(*(t.done.wait() for t in active))
            if self._registry.find(task.id) is not task:  # a concurrent removal got there first
                self._registry.get(task_id)
        releases = [r for r in (self._engines.release(t) for t in subtree) if r is not None]
        if releases:
            await asyncio.gather(*releases)
        self._registry.discard(subtree)
        self._life.removed(subtree)
        await self._journal.durable(task)
        return [t.id for t in subtree]

    async def rename(self, task_id: str, name: str | None, description: str | None) -> TaskRecordJson:
        """Set the name and/or the description (blank values refused)."""
        task = self._registry.get(task_id)
        check_rename(name, description)
        self._life.rename(task, None if name is None else name.strip(), description)
        await self._journal.durable(task)
        return task.record()
