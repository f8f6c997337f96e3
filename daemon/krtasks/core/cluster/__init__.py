"""Several daemons (nodes) over one shared PostgreSQL store: mirror, claims, fenced journal, commands,
notifications and the node's timers. :func:`assemble_cluster` wires them for a :class:`TaskService`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from ...metrics import Metrics, MetricsObserver
from ...models import ServiceConfig
from ...store.postgres import PostgresTaskStore
from ..engineset import EngineSet
from ..hub import EventHub
from ..lifecycle import Lifecycle
from ..observers import Observers, TaskObserver
from ..registry import Registry
from .claims import ClaimingSupervisor
from .journal import FencedJournal
from .mirror import Mirror
from .node import ClusterNode
from .operations import ClusterOperations

__all__ = ["ClaimingSupervisor", "ClusterNode", "ClusterOperations", "FencedJournal", "Mirror", "assemble_cluster"]


def assemble_cluster(
    config: ServiceConfig,
    registry: Registry,
    engines: EngineSet,
    metrics: Metrics,
    watchers: Sequence[TaskObserver],
    clock: Callable[[], datetime],
    monotonic: Callable[[], float],
    store: PostgresTaskStore,
) -> tuple[FencedJournal, EventHub, ClaimingSupervisor, ClusterOperations, ClusterNode]:
    """The parts of a node: journal, hub, supervisor, operations and the node itself (``watchers`` observe
    state changes between the metrics and the hub)."""
    node = store.node
    lose: list[ClaimingSupervisor] = []
    journal = FencedJournal(store, node, on_lost=lambda task: lose[0].lose(task))
    hub = EventHub(journal)
    life = Lifecycle(Observers([journal, MetricsObserver(metrics), *watchers, hub]), clock)
    supervisor = ClaimingSupervisor(engines, life, config, monotonic, store, node, hub)
    lose.append(supervisor)
    mirror = Mirror(store, registry, hub, engines, node, on_cancel=supervisor.cancel)
    supervisor.mirror, supervisor.journal = mirror, journal
    ops = ClusterOperations(config, registry, engines, life, supervisor, journal, clock, store, mirror)
    member = ClusterNode(store, supervisor, mirror, registry, config, clock)
    metrics.registry.register(member.collector())
    return journal, hub, supervisor, ops, member
