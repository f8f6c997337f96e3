"""A node of a cluster: its row in ``krtasks_nodes`` and the three timers, plus polling and rescue.

- The task's own TimeoutSeconds is measured by the node that runs it, from its start
  (:class:`~krtasks.core.supervisor.RunSupervisor`).
- Leases: every ``lease_seconds / 3`` the node renews the leases of its runs (a run whose lease could not
  be renewed is lost, see :mod:`~krtasks.core.cluster.claims`); a lease expires ``lease_seconds`` after
  its last renewal, by the database's clock.
- Heartbeat: on the same tick the node stamps its row (``heartbeat_at = now()`` of the database) with how
  many tasks it runs. ``GET /api/v1/nodes`` lists the rows; rows silent for 10 leases (at least 60 s) are
  pruned.

Every ``poll_seconds`` the node takes in the change feed and claims for its free slots, whatever the
notifications did. On every lease tick it also tries the rescue: in one transaction holding
``pg_try_advisory_xact_lock`` (so one node at a time, and a paused node holds nothing), Running and
Stopping tasks whose lease expired become Failed with Error.Type ``Interrupted`` naming the node. A node
that starts again under its id (the same state dir) ends its previous runs the same way at once, as a
restarted single daemon does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ... import __version__
from ...models import NodeJson, ServiceConfig, TaskErrorInfo, TaskState
from ...store.postgres import PostgresTaskStore
from ...store.postgres_cluster import NodeInfo
from ...store.postgres_schema import Row, key_of
from ..registry import Registry
from ..restore import interrupt, prepare_again, restart_message
from ..retention import select_expired
from ..states import transition
from .claims import ClaimingSupervisor
from .mirror import Mirror
from .signals import Listener

log = logging.getLogger("krtasks.cluster")


def lease_lost_message(node: str, state: str) -> str:
    """Why a run is interrupted when its node stopped renewing its lease."""
    return f"The node '{node}' stopped renewing its lease while the task was {state}; its run was lost."


class ClusterNode:
    """Runs the node's background work (see the module docstring); :meth:`open` before use, :meth:`close`
    after the runs ended. ``clock`` gives UTC "now" for the tasks' timestamps."""

    def __init__(
        self,
        store: PostgresTaskStore,
        supervisor: ClaimingSupervisor,
        mirror: Mirror,
        registry: Registry,
        config: ServiceConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self.id = store.node
        self._store = store
        self._supervisor = supervisor
        self._mirror = mirror
        self._registry = registry
        self._config = config
        self._lease = config.lease_seconds
        self._poll = config.poll_seconds
        self._clock = clock
        self._loops: list[asyncio.Task[None]] = []
        self._listener = Listener(store.dsn, f"krtasks {self.id} listen", self._notified, self._caught_up)
        self._started_at = datetime.now(UTC)
        self.mirror = mirror
        self.rescued = 0
        """Runs of other (or earlier) nodes this node moved to Failed/Interrupted."""

    def info(self) -> NodeInfo:
        """This node as its row says (heartbeat: now, by this node's clock)."""
        now = datetime.now(UTC)
        running = len(self._supervisor.running)
        return NodeInfo(
            self.id,
            socket.gethostname(),
            os.getpid(),
            __version__,
            self._started_at,
            now,
            self._supervisor.slots.limit,
            running,
        )

    # -------------------------------------------------------------- life cycle

    async def open(self) -> None:
        """Register the node, load every task, end this node's previous runs, then start listening, polling
        and the lease ticks.

        Raises:
            psycopg.Error: the store cannot be reached.
        """
        began = time.perf_counter()
        before = await self._store.join(self.info())
        if before is not None:
            log.info("node %s takes over its previous registration (last heartbeat %s)", self.id, before.isoformat())
        count = await self._mirror.load()
        ended = await self._store.rescue(self._restarted, node=self.id, lock=False)
        await self._mirror.apply(ended)
        await self._prepare_unstarted()
        log.info(
            "restored %d tasks from the store in %.2f s (node %s of the shared store %s; %d runs of its "
            "previous start interrupted)",
            count,
            time.perf_counter() - began,
            self.id,
            self._store.where,
            len(ended),
        )
        self._listener.start()
        self._every(self._poll, self._poll_once, "poll")
        self._every(max(0.2, min(self._lease / 3, 10.0)), self._lease_tick, "lease")

    async def _prepare_unstarted(self) -> None:
        """As a restarted daemon does: prepare NotStarted tasks again; one whose code no longer compiles
        becomes Failed (if it is still NotStarted in the store)."""
        engines = self._supervisor.engines
        for entry in list(self._mirror.registry):
            if entry.state != TaskState.NOT_STARTED or entry.prepared is not None:
                continue
            error = await prepare_again(entry, engines)
            if error is None:
                continue
            failure = error

            def fail(row: Row, failure: TaskErrorInfo = failure) -> None:
                if row.data.state == TaskState.NOT_STARTED:
                    ended = row.data.progress.ended("Failed")
                    transition(row.data, TaskState.FAILED, self._clock(), progress=ended, error=failure)

            changed = await self._store.change(entry.id, fail)
            if changed is not None:
                await self._mirror.apply([changed[1]])

    def _every(self, seconds: float, work: Callable[[], Awaitable[None]], name: str) -> None:
        async def loop() -> None:
            failing = False
            while True:
                try:
                    await work()
                    if failing:
                        log.info("the %s work of node %s works again", name, self.id)
                    failing = False
                except Exception as exc:  # the store is unreachable: try again next tick, log once
                    if not failing:
                        log.warning("the %s work of node %s failed: %s", name, self.id, exc)
                    failing = True
                await asyncio.sleep(seconds)

        self._loops.append(asyncio.get_running_loop().create_task(loop(), name=f"krtasks-{name}"))

    async def close(self) -> None:
        """Stop the timers and listening, remove the node's row and close the connections."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops.clear()
        await self._listener.stop()
        await self._mirror.close()
        try:
            await self._store.leave(self.id)
        except Exception as exc:  # its row is pruned later
            log.warning("node %s could not remove its row: %s", self.id, exc)
        await self._store.close()

    # -------------------------------------------------------------- the work

    def _notified(self, payload: str) -> None:
        if payload == "q":
            self._supervisor.claim_soon()
        else:
            self._mirror.notified(payload)

    async def _caught_up(self) -> None:
        with contextlib.suppress(Exception):  # the poll tries again
            await self._poll_once()

    async def _poll_once(self) -> None:
        await self._mirror.poll()
        await self._supervisor.claim()

    async def _lease_tick(self) -> None:
        await self._supervisor.renew()
        await self._store.heartbeat(self.info())
        rescued = await self._store.rescue(self._expired)
        if rescued:
            self.rescued += len(rescued)
            log.warning("rescued %d runs whose node stopped renewing its lease", len(rescued))
            await self._mirror.apply(rescued)
        await self._store.prune_nodes(max(60.0, 10 * self._lease))

    def _expired(self, row: Row, node: str) -> None:
        interrupt(row.data, self._clock(), lease_lost_message(node, row.data.state.value))

    def _restarted(self, row: Row, _node: str) -> None:
        interrupt(row.data, self._clock(), restart_message(row.data.state))

    async def known(self, task_id: str) -> None:
        """Take in a task this node has not seen yet (created elsewhere a moment ago), so the registry finds it."""
        await self._mirror.ensure(task_id)

    @property
    def queue_length(self) -> int:
        """Tasks waiting in Queued in the whole cluster (as this node's mirror has them)."""
        return self._registry.count_by_state().get("Queued", 0)

    async def sweep(self, now: datetime) -> int:
        """Retention over the shared store, on one node at a time (see :func:`krtasks.core.retention.sweep`
        for what goes): the chosen subtrees are deleted in batches; the mirrors learn it from the removals.
        Returns how many subtrees went (0 when another node sweeps now)."""
        registry = self._registry
        retention_seconds, max_finished = self._config.retention_seconds, self._config.max_finished
        if retention_seconds <= 0 and max_finished <= 0:
            return 0
        roots = [registry.get(i) for i in select_expired(registry, now, retention_seconds, max_finished)]
        if not roots:
            return 0
        keys = [key_of(t.id) for root in roots for t in registry.subtree(root)]
        if not await self._store.sweep(keys):
            return 0
        self._mirror.forget([t for root in roots for t in registry.subtree(root)])
        log.info("retention removed %d finished tasks (with their subtrees)", len(roots))
        return len(roots)

    # -------------------------------------------------------------- reporting

    async def nodes(self) -> list[NodeJson]:
        """Every registered node as the API shows it (times ISO 8601 UTC)."""
        from ...records import iso

        return [
            {
                "Id": n.id,
                "Host": n.host,
                "Pid": n.pid,
                "Version": n.version,
                "StartedAt": iso(n.started_at) or "",
                "HeartbeatAt": iso(n.heartbeat_at) or "",
                "Slots": n.slots,
                "Running": n.running,
            }
            for n in await self._store.nodes()
        ]

    def collector(self) -> Collector:
        """Prometheus metrics of this node (labelled with its id)."""
        return _NodeCollector(self)


class _NodeCollector(Collector):
    def __init__(self, node: ClusterNode) -> None:
        self._node = node

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Yield the node's gauges and counters."""
        n = self._node
        sup = n._supervisor
        labels = ["node"]
        running = GaugeMetricFamily("krtasks_node_running", "Tasks this node runs now.", labels=labels)
        running.add_metric([n.id], len(sup.running))
        yield running
        for name, text, value in (
            ("krtasks_node_claims", "Runs this node claimed.", sup.claimed),
            ("krtasks_node_leases_lost", "Runs this node lost (lease expired).", sup.lost),
            ("krtasks_node_rescued", "Expired runs this node moved to Failed/Interrupted.", n.rescued),
            (
                "krtasks_node_listen_connections",
                "Times the notification connection was built.",
                n._listener.connections,
            ),
        ):
            counter = CounterMetricFamily(name, text, labels=labels)
            counter.add_metric([n.id], value)
            yield counter
