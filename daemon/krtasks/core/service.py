"""The task service: the facade the HTTP layer (and tests) drive. Public methods only; the rules live in
the units it composes (see docs/engine.md, "Architecture").

Everything here runs on the asyncio event loop; engines do their .NET work elsewhere. Public methods raise
:class:`~krtasks.errors.TaskError` subclasses for bad requests (refusals are one type,
:class:`~krtasks.errors.TaskConflictError`) and never raise for what task code does: that ends up in the
task's State and Error.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime

from ..engines.base import Engine
from ..metrics import Metrics
from ..models import (
    Language,
    NodeJson,
    OverviewJson,
    ServiceConfig,
    StreamPageJson,
    TaskData,
    TaskDefinitionJson,
    TaskRecordJson,
    TaskResultJson,
    TaskSpec,
)
from ..records import utc_now
from ..store import TaskStore
from . import listing, retention
from .assembly import assemble
from .engineset import EngineSet
from .history import RunHistory
from .hub import Event, FeedSubscription
from .listing import TaskPage, TaskQuery
from .overview import Overview
from .registry import Registry

log = logging.getLogger("krtasks.core")

STREAM_PAGE = 1000
"""Most stream records one :meth:`TaskService.streams` call returns."""


class TaskService:
    """Creates, runs, watches, cancels and removes tasks. Call :meth:`open` before use, :meth:`close` after.

    ``engines``: one engine per language (None: :meth:`open` loads .NET and the engines of
    ``config.isolation``).
    ``clock`` gives UTC "now" for timestamps and retention; ``monotonic`` the seconds that timeouts and grace
    periods are measured in. ``store`` (None keeps tasks in memory only): tasks are restored from it by
    :meth:`open`, and creation, every state change, rename and removal are durable in it before the method
    returns (the store's error propagates if the write fails); the caller closes it after :meth:`close`.
    Retention (``config.retention_seconds``/``max_finished``) is swept every
    :data:`~krtasks.core.retention.SWEEP_INTERVAL_SECONDS` and on :meth:`sweep`.
    """

    def __init__(
        self,
        config: ServiceConfig | None = None,
        *,
        engines: Mapping[Language, Engine] | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        store: TaskStore | None = None,
    ) -> None:
        self.config = config or ServiceConfig()
        self._clock = clock
        self._given_engines = engines
        self._registry = Registry()
        self._history = RunHistory()
        self.metrics = Metrics(self._registry.count_by_state, lambda: self.queue_length)
        self.engines = EngineSet(lambda language: self.metrics.compilations.labels(language.value).inc())
        parts = assemble(
            self.config, self._registry, self.engines, self.metrics, [self._history], clock, monotonic, store
        )
        self._journal, self._hub, self._supervisor, self._ops, self._node, self._commands = parts
        self._overview = Overview(
            self.config, self._registry, self._supervisor.slots, self.engines, self._hub, self._history, store
        )
        self._sweeper = retention.Sweeper(self.sweep)

    # ------------------------------------------------------------------ life cycle

    async def open(self) -> None:
        """Install the engines (loading .NET unless they were given), restore the store's tasks, then let the
        engines warm up and start the retention sweep; idempotent.

        Raises:
            krtasks.runtime.RuntimeNotAvailableError: the bundle or .NET is missing.
            Exception: the store's error when it cannot be read.
        """
        if self.engines.installed:
            return
        if self._given_engines is None:
            from ..engines import open_engines

            self._given_engines = await open_engines(self.config, self.metrics.registry)
        self.engines.install(self._given_engines)
        # Before the warm-up, so the load does not compete with its JIT threads for the CPU.
        await self._node.open()
        self._history.seed(self._registry)
        self._overview.opened(self._clock())
        self.engines.warm_up()
        self._sweeper.start()

    async def shutdown(self, grace_seconds: float | None = None) -> None:
        """The daemon is stopping: cancel every queued or running task and wait up to ``grace_seconds``
        (default: the stop grace) + 1 s for them to end, so event streams and waiters see the end; then end
        the event streams and long polls still open. Commands keep working until :meth:`close`."""
        grace = self.config.stop_grace_seconds if grace_seconds is None else grace_seconds
        log.info("Cancelling running tasks (grace %.1f s)", grace)
        await self._supervisor.stop_all(self._registry, grace)
        self._hub.close()

    async def close(self, grace_seconds: float | None = None) -> None:
        """Finish the commands in flight, stop what still runs (as :meth:`shutdown`), then write what is
        pending and close the engines."""
        await self._sweeper.stop()
        await self._commands.drain()
        await self.shutdown(grace_seconds)
        await self._journal.close()
        await self._node.close()
        await self.engines.close()

    # ------------------------------------------------------------------ queries

    def get(self, task_id: str) -> TaskRecordJson:
        """The task's record. Raises :class:`TaskNotFoundError` (ids compare case-insensitively)."""
        return self._registry.get(task_id).record()

    def exists(self, task_id: str) -> bool:
        """True when a task has this id."""
        return self._registry.find(task_id) is not None

    def list(
        self,
        *,
        state: str | None = None,
        language: str | None = None,
        name: str | None = None,
        parent_id: str | None = None,
    ) -> list[TaskRecordJson]:
        """Records, newest first. Filters: exact state and language (case-insensitive), ``name`` with
        ``*``/``?`` wildcards (case-insensitive), ``parent_id`` ("" for root tasks). Raises
        :class:`TaskValidationError` for an unknown state or language."""
        return self.page(TaskQuery.parse(state, language, name=name, parent_id=parent_id)).records

    def page(self, query: TaskQuery) -> TaskPage:
        """One page of records as ``query`` filters, orders and pages them, with the number of matches and
        the next page's cursor (see :mod:`krtasks.core.listing`). Raises :class:`TaskValidationError`
        for an invalid cursor."""
        return listing.select(self._registry, query)

    @property
    def queue_length(self) -> int:
        """Tasks waiting in Queued for a free slot (with a shared store: in the whole cluster)."""
        return self._node.queue_length

    async def known(self, task_id: str) -> None:
        """With a shared store, take in a task this node has not seen yet (created elsewhere a moment ago),
        so the synchronous queries find it; without one, nothing to do."""
        await self._node.known(task_id)

    async def nodes(self) -> builtins.list[NodeJson]:
        """The daemons serving this task set: the cluster's nodes, or this daemon alone."""
        return await self._node.nodes()

    @property
    def running_count(self) -> int:
        """Slots in use (Running and Stopping tasks)."""
        return self._supervisor.slots.in_use

    @property
    def abandoned(self) -> int:
        """Runs abandoned after the grace period."""
        return self._supervisor.abandoned

    def result(self, task_id: str) -> TaskResultJson:
        """``{Id, CreatedAt, State, Output, Error}`` of a finished task (Output: PowerShell → list of output
        objects; C#/VB → the returned value). CreatedAt tells a client which task of that id answered. Raises
        :class:`TaskNotFoundError` (unknown id) and :class:`TaskConflictError` (not finished)."""
        return self._registry.get(task_id).result()

    def data(self, task_id: str) -> TaskData:
        """A copy of the task's durable data (code, arguments, context, CliXml output). Raises
        :class:`TaskNotFoundError`."""
        return copy.copy(self._registry.get(task_id).data)

    def streams(self, task_id: str, since: int = 0) -> StreamPageJson:
        """Stream records from index ``since`` on, at most :data:`STREAM_PAGE` per call (ask again from
        ``Next``). CreatedAt as in :meth:`result`. Raises :class:`TaskNotFoundError` (unknown id) and
        :class:`TaskValidationError` (negative ``since``)."""
        return self._registry.get(task_id).stream_page(since, STREAM_PAGE)

    async def wait(self, task_id: str, timeout: float | None = None) -> TaskRecordJson:
        """The record as soon as the task has finished (durably), or the current record after ``timeout``
        seconds (None: no limit) or when the daemon shuts down. The task keeps running either way. Raises
        :class:`TaskNotFoundError`."""
        await self.known(task_id)
        task = self._registry.get(task_id)
        await self._hub.wait(task, timeout)
        return task.record()

    def events(self, task_id: str) -> AsyncIterator[Event]:
        """Live events of one task: ``("state", record)`` first, then ``("progress", {Id, Progress})``,
        ``("stream", {Id, Index, Stream, Message, Time})`` and ``("state", record)`` as they happen; the
        iterator ends after a finished state (or on removal or shutdown).

        Raises:
            TaskNotFoundError: unknown id.
        """
        return self._hub.subscribe(self._registry.get(task_id))

    def feed(self) -> FeedSubscription:
        """Every task's events from now on as ``(seq, kind, data)``: ``created`` (record), ``state`` (record
        plus PreviousState), ``progress`` ({Id, Progress}), ``removed`` ({Id, State, ParentId, CompletedAt});
        subscribed on return; ends at shutdown or when the subscriber lags (see :mod:`krtasks.core.hub`)."""
        return self._hub.feed()

    def overview(self) -> OverviewJson:
        """The daemon at a glance as of server-wide event ``EventSeq`` (see :mod:`krtasks.core.overview`)."""
        return self._overview.snapshot(self._clock())

    def definition(self, task_id: str) -> TaskDefinitionJson:
        """What the task was created with (code, arguments, settings). Raises :class:`TaskNotFoundError`."""
        return self._registry.get(task_id).definition()

    # ------------------------------------------------------------------ commands

    async def create(self, spec: TaskSpec) -> TaskRecordJson:
        """Register a task (NotStarted; started at once with ``auto_start``) and return its record. Its code
        is parsed or compiled now, so a broken script is refused up front.

        Raises:
            TaskValidationError: a field is invalid (``field`` names it).
            TaskConflictError: the id is taken.
            CompileError: the code does not compile/parse; nothing is registered.
        """
        return (await self._commands.run(self._ops.create(spec))).record()

    async def run(self, spec: TaskSpec, wait: float) -> tuple[TaskRecordJson, TaskResultJson | None]:
        """Create and start a task, then wait up to ``wait`` seconds for its end (one call): ``(record,
        result)`` once it has finished (durably), ``(record, None)`` when the wait ran out and it goes on.
        Raises as :meth:`create`."""
        task = await self._commands.run(self._ops.create(dataclasses.replace(spec, auto_start=True)))
        await self._hub.wait(task, wait)
        return task.record(), task.result() if task.state.finished else None

    async def start(self, task_id: str) -> TaskRecordJson:
        """Start a NotStarted task: Running, or Queued when all ``max_runspaces`` slots are busy.

        Raises:
            TaskNotFoundError: unknown id.
            TaskConflictError: the task is not NotStarted.
        """
        return await self._commands.run(self._ops.start(task_id))

    async def cancel(self, task_id: str) -> TaskRecordJson:
        """Cancel a task: NotStarted/Queued → Stopped at once; Running → Stopping → Stopped (its code killed or
        abandoned after the grace period). Never blocks on the task's code; returns the record.

        Raises:
            TaskNotFoundError: unknown id.
            TaskConflictError: the task had already finished.
        """
        return await self._commands.run(self._ops.cancel(task_id))

    async def remove(self, task_id: str, force: bool = False) -> builtins.list[str]:
        """Remove a finished or NotStarted task and all its descendants; return the removed ids (root first).
        With ``force``, Queued/Running/Stopping tasks of the subtree are cancelled first and removal happens
        once they have finished.

        Raises:
            TaskNotFoundError: unknown id.
            TaskConflictError: the task or a descendant is Queued/Running/Stopping and ``force`` is false.
        """
        return await self._commands.run(self._ops.remove(task_id, force))

    async def rename(self, task_id: str, name: str | None = None, description: str | None = None) -> TaskRecordJson:
        """Set Name and/or Description; return the record.

        Raises:
            TaskNotFoundError: unknown id.
            TaskValidationError: neither given, or a blank value.
        """
        return await self._commands.run(self._ops.rename(task_id, name, description))

    async def sweep(self) -> int:
        """Apply retention now (see :func:`krtasks.core.retention.sweep`); returns how many subtrees went."""
        return await self._node.sweep(self._clock())
