"""Wiring a task service: the journal, hub, supervisor and operations of a daemon over SQLite (or no
store), or of a node over a shared PostgreSQL store (:mod:`krtasks.core.cluster`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ..metrics import Metrics, MetricsObserver
from ..models import NodeJson, ServiceConfig
from ..records import iso, utc_now
from ..store import TaskStore
from .engineset import EngineSet
from .hub import EventHub
from .journal import NullJournal, open_journal
from .lifecycle import Lifecycle
from .observers import Observers
from .operations import TaskOperations
from .registry import Registry
from .supervisor import RunSupervisor

if TYPE_CHECKING:
    from .cluster.node import ClusterNode


Parts = tuple[NullJournal, EventHub, RunSupervisor, TaskOperations, "ClusterNode | None"]


def assemble(
    config: ServiceConfig,
    registry: Registry,
    engines: EngineSet,
    metrics: Metrics,
    clock: Callable[[], datetime],
    monotonic: Callable[[], float],
    store: TaskStore | None,
) -> Parts:
    """The parts of a service over ``store``: ``(journal, hub, supervisor, operations, node)``; ``node`` is
    None unless the store is shared (``store.shared``)."""
    if store is not None and getattr(store, "shared", False):
        from ..store.postgres import PostgresTaskStore
        from .cluster import assemble_cluster

        assert isinstance(store, PostgresTaskStore)
        return assemble_cluster(config, registry, engines, metrics, clock, monotonic, store)
    journal = open_journal(store)
    hub = EventHub(journal)
    life = Lifecycle(Observers([journal, MetricsObserver(metrics), hub]), clock)
    supervisor = RunSupervisor(engines, life, config, monotonic)
    ops = TaskOperations(config, registry, engines, life, supervisor, journal, clock)
    return journal, hub, supervisor, ops, None


def local_node(started_at: datetime, slots: int, running: int) -> NodeJson:
    """This daemon as the one node of its own store."""
    import os
    import socket

    from .. import __version__

    return {
        "Id": "local",
        "Host": socket.gethostname(),
        "Pid": os.getpid(),
        "Version": __version__,
        "StartedAt": iso(started_at) or "",
        "HeartbeatAt": iso(utc_now()) or "",
        "Slots": slots,
        "Running": running,
    }
