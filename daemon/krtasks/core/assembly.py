"""Wiring a task service: the parts of a daemon over SQLite (or no store), or of a node over a shared
PostgreSQL store (:mod:`krtasks.core.cluster`), behind the same interfaces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from ..metrics import Metrics, MetricsObserver
from ..models import NodeJson, ServiceConfig
from ..store import TaskStore
from .commands import Commands
from .engineset import EngineSet
from .hub import EventHub
from .journal import NullJournal, open_journal
from .lifecycle import Lifecycle
from .local import LocalNode
from .observers import Observers, TaskObserver
from .operations import TaskOperations
from .registry import Registry
from .supervisor import RunSupervisor


class Node(Protocol):
    """Where the service runs: a daemon alone (:class:`~krtasks.core.local.LocalNode`) or a node of a
    shared store (:class:`~krtasks.core.cluster.node.ClusterNode`)."""

    async def open(self) -> None:
        """Load the stored tasks into the registry (and, for a node, start its timers)."""
        ...

    async def close(self) -> None:
        """Release what :meth:`open` started, once the runs have ended."""
        ...

    async def known(self, task_id: str) -> None:
        """Take in a task created elsewhere a moment ago, so the registry finds it (nothing when alone)."""
        ...

    @property
    def queue_length(self) -> int:
        """Tasks waiting in Queued (with a shared store: in the whole cluster)."""
        ...

    async def nodes(self) -> list[NodeJson]:
        """The daemons serving this task set."""
        ...

    async def sweep(self, now: datetime) -> int:
        """Apply retention as of ``now``; how many finished subtrees went."""
        ...


class Parts(NamedTuple):
    """The units a :class:`~krtasks.core.service.TaskService` composes."""

    journal: NullJournal
    hub: EventHub
    supervisor: RunSupervisor
    ops: TaskOperations
    node: Node
    commands: Commands


def assemble(
    config: ServiceConfig,
    registry: Registry,
    engines: EngineSet,
    metrics: Metrics,
    watchers: Sequence[TaskObserver],
    clock: Callable[[], datetime],
    monotonic: Callable[[], float],
    store: TaskStore | None,
) -> Parts:
    """The parts of a service over ``store``: a cluster node's when the store is shared (``store.shared``),
    else a daemon's alone. ``watchers`` observe state changes after the journal and the metrics, before the
    event hub (see :class:`~krtasks.core.observers.Observers`)."""
    commands = Commands()
    if store is not None and getattr(store, "shared", False):
        from ..store.postgres import PostgresTaskStore
        from .cluster import assemble_cluster

        assert isinstance(store, PostgresTaskStore)
        parts = assemble_cluster(config, registry, engines, metrics, watchers, clock, monotonic, store)
        return Parts(*parts, commands)
    journal = open_journal(store)
    hub = EventHub(journal)
    life = Lifecycle(Observers([journal, MetricsObserver(metrics), *watchers, hub]), clock)
    supervisor = RunSupervisor(engines, life, config, monotonic)
    ops = TaskOperations(config, registry, engines, life, supervisor, journal, clock)
    node = LocalNode(
        config, registry, engines, supervisor, store, clock, lambda task_id: commands.run(ops.remove(task_id, False))
    )
    return Parts(journal, hub, supervisor, ops, node, commands)
