"""The cluster's run supervisor: claims queued tasks up to the node's free slots, renews their leases, and
stops a run the node lost.

Claims (:meth:`ClaimingSupervisor.claim`) take free slots first, then claim that many tasks in one
statement (FIFO by queue time, ``FOR UPDATE SKIP LOCKED``); unused slots go back. A claimed task runs as
on a single daemon (:class:`~krtasks.core.supervisor.RunSupervisor`: timeouts, cancels, grace period),
prepared again (parsed or compiled) first when this node did not create it.

A run is lost when a fenced write or a lease renewal finds that the node no longer holds it (the lease
expired while the node was paused or cut off, and another node may have rescued it). The node then
stops the code (killing its worker after the grace period), announces nothing of its own about the run and
takes the store's row in instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from ...engines.base import Execution, Outcome, StepReport
from ...errors import CompileError
from ...models import ServiceConfig, StopReason, TaskErrorInfo, TaskState
from ...store.postgres import PostgresTaskStore
from ..engineset import EngineSet
from ..entry import Run, TaskEntry
from ..hub import EventHub
from ..lifecycle import Lifecycle
from ..supervisor import RunSupervisor
from .journal import FencedJournal
from .mirror import Mirror

log = logging.getLogger("krtasks.cluster")


class ClaimingSupervisor(RunSupervisor):
    """Runs what this node claims (see the module docstring); ``lease_seconds`` is each claim's lease."""

    def __init__(
        self,
        engines: EngineSet,
        lifecycle: Lifecycle,
        config: ServiceConfig,
        monotonic: Callable[[], float],
        store: PostgresTaskStore,
        node: str,
        hub: EventHub,
    ) -> None:
        super().__init__(engines, lifecycle, config, monotonic)
        self._store = store
        self._node = node
        self._hub = hub
        self._lease = config.lease_seconds
        self._claiming = asyncio.Lock()
        self.mirror: Mirror | None = None
        self.journal: FencedJournal | None = None
        self.claimed = 0
        """Runs this node claimed."""
        self.lost = 0
        """Runs this node lost (lease expired)."""
        self._runs: dict[str, TaskEntry] = {}
        self._spawned: set[asyncio.Task[None]] = set()
        self._taking_back: set[TaskEntry] = set()

    @property
    def engines(self) -> EngineSet:
        """The engines runs use."""
        return self._engines

    @property
    def running(self) -> list[TaskEntry]:
        """The tasks this node runs now."""
        return list(self._runs.values())

    # -------------------------------------------------------------- claiming

    async def claim(self) -> int:
        """Claim queued tasks for the free slots and launch them; how many were claimed.

        Raises:
            psycopg.Error: the store could not be reached (the slots were given back).
        """
        assert self.mirror is not None
        async with self._claiming:
            free = self.slots.limit - self.slots.in_use
            if free <= 0:
                return 0
            self.slots.in_use += free
            try:
                rows = await self._store.claim(self._node, free, self._lease, self._life.clock())
            except BaseException:
                self.slots.in_use -= free
                raise
            self.slots.in_use -= free - len(rows)
            entries = await self.mirror.apply(rows)
            for task in entries:
                self._launch_claimed(task)
            if len(entries) < len(rows):  # removed meanwhile (cannot happen while the row is Running)
                self.slots.in_use -= len(rows) - len(entries)
            self.claimed += len(entries)
            return len(entries)

    def claim_soon(self) -> None:
        """Claim in the background (a slot was freed, or a task was queued)."""
        task = asyncio.get_running_loop().create_task(self._claim_quietly(), name="krtasks-claim")
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def _claim_quietly(self) -> None:
        try:
            await self.claim()
        except Exception as exc:  # the poll claims again within poll_seconds
            log.warning("claiming queued tasks failed: %s", exc)

    def _launch_claimed(self, task: TaskEntry) -> None:
        task.run = Run()
        self._runs[task.id.lower()] = task
        self._spawn(task, self._prepare_and_drive(task, task.run))

    async def _prepare_and_drive(self, task: TaskEntry, run: Run) -> None:
        if task.prepared is None:
            try:
                task.prepared = await self._engines.prepare_again(task.data)
            except CompileError as exc:
                self._end(task, TaskState.FAILED, "Failed", TaskErrorInfo("CompileError", str(exc)))
                return
            except Exception as exc:
                error = TaskErrorInfo(type(exc).__name__, f"The task could not be prepared on this node: {exc}")
                self._end(task, TaskState.FAILED, "Failed", error)
                return
        await self._drive(task, run)

    # -------------------------------------------------------------- leases

    async def renew(self) -> None:
        """Renew this node's leases; runs whose lease could not be renewed are lost.

        Raises:
            psycopg.Error: the store could not be reached (the leases run on; they expire if this persists).
        """
        held = {(k, a) for k, a in await self._store.renew(self._node, self._lease)}
        for key, task in list(self._runs.items()):
            if task.run is not None and not task.run.lost and (key, task.data.attempt) not in held:
                self.lose(task)

    def lose(self, task: TaskEntry) -> None:
        """This node no longer holds the task's run: stop its code, write and announce nothing more of it.
        A run that already ended here (its final write was the one refused) is taken back from the store."""
        run = task.run
        if run is None:
            if task.state.finished and task not in self._taking_back:
                self._take_back(task)
            return
        if run.lost:
            return
        run.lost = True
        self.lost += 1
        log.warning("task %s: lease lost; stopping its run here (another node rescues it)", task.id)
        self._hub.drop_held(task)
        if self.journal is not None:
            self.journal.forget(task)
        if run.stop_reason is None:
            run.stop_reason = StopReason.CANCEL
        run.stop_deadline = self._monotonic() + self._grace
        if run.execution is not None:
            run.execution.stop()

    def _observe(self, task: TaskEntry, run: Run, report: StepReport) -> None:
        if not run.lost:
            super()._observe(task, run, report)

    def _request_stop(self, task: TaskEntry, reason: StopReason) -> None:
        run = task.run
        if run is not None and run.lost:
            return
        super()._request_stop(task, reason)

    def _conclude(self, task: TaskEntry, run: Run, outcome: Outcome) -> None:
        if run.lost:
            self._let_go(task)
        else:
            super()._conclude(task, run, outcome)

    async def _abandon(self, task: TaskEntry, run: Run, execution: Execution) -> None:
        if run.lost:
            await execution.abandon()
            self._let_go(task)
        else:
            await super()._abandon(task, run, execution)

    def _let_go(self, task: TaskEntry) -> None:
        """End a lost run here: free its slot and take the store's row in."""
        task.run = None
        self._runs.pop(task.id.lower(), None)
        self._engines.release(task)
        self.slots.in_use -= 1
        self.claim_soon()
        self._take_back(task)

    def _take_back(self, task: TaskEntry) -> None:
        """Replace what this node holds of a run it lost by the store's row: the records that never became
        durable go, the events still waiting for a refused write are dropped (a final state this node could
        not write is never announced), and the stored row is fetched, taken in and its state announced."""
        assert self.mirror is not None and self.journal is not None
        self._hub.drop_held(task)
        written = self.journal.written.pop(task, 0)
        del task.records[written:]  # what never became durable is not the task's
        task.version = 0  # take the stored row whatever its version
        self._taking_back.add(task)
        retake = asyncio.get_running_loop().create_task(self.mirror.take_back(task))
        self._spawned.add(retake)
        retake.add_done_callback(lambda _t: self._taking_back.discard(task))
        retake.add_done_callback(self._spawned.discard)

    def _end(self, task: TaskEntry, state: TaskState, status: str, error: TaskErrorInfo | None = None) -> None:
        self._runs.pop(task.id.lower(), None)
        super()._end(task, state, status, error)
        self.claim_soon()

    # -------------------------------------------------------------- stopping

    async def stop_all(self, tasks: Iterable[TaskEntry], grace_seconds: float) -> None:
        """Cancel the runs of this node (not other nodes' tasks, nor the shared queue) and wait for them."""
        await super().stop_all([t for t in tasks if t.run is not None], grace_seconds)
