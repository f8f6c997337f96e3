"""The overview: the daemon at a glance, one synchronous snapshot (``GET /api/v1/overview``).

The snapshot is taken on the event loop without awaiting, so it is consistent with the server-wide event
numbering: it shows every change up to ``EventSeq`` and none after (see :mod:`krtasks.core.hub`).
"""

from __future__ import annotations

from datetime import datetime

from .. import __version__
from ..models import OverviewJson, ServiceConfig, StateCountsJson, TaskState, WorkerCountsJson
from ..records import iso
from ..store import TaskStore
from .engineset import EngineSet
from .history import RunHistory
from .hub import EventHub
from .registry import Registry
from .slots import SlotQueue

RUNNING_SHOWN = 100
"""Most running tasks an overview lists."""


class Overview:
    """Builds :class:`~krtasks.models.OverviewJson` snapshots from the service's units."""

    def __init__(
        self,
        config: ServiceConfig,
        registry: Registry,
        slots: SlotQueue,
        engines: EngineSet,
        hub: EventHub,
        history: RunHistory,
        store: TaskStore | None,
    ) -> None:
        self._config = config
        self._registry = registry
        self._slots = slots
        self._engines = engines
        self._hub = hub
        self._history = history
        self._store = store
        self._opened: datetime | None = None

    def opened(self, now: datetime) -> None:
        """The service opened at ``now`` (UTC): the uptime counts from then."""
        self._opened = now

    def snapshot(self, now: datetime) -> OverviewJson:
        """The overview at ``now`` (UTC)."""
        opened = self._opened or now
        counts = dict.fromkeys((s.value for s in TaskState), 0)
        running = []
        for task in self._registry:
            counts[task.state.value] += 1
            if task.state in (TaskState.RUNNING, TaskState.STOPPING):
                running.append(task)
        running.sort(key=lambda t: t.data.seq, reverse=True)
        workers = self._engines.workers()
        slots = self._slots
        config = self._config
        state_counts: StateCountsJson = {
            "NotStarted": counts["NotStarted"],
            "Queued": counts["Queued"],
            "Running": counts["Running"],
            "Stopping": counts["Stopping"],
            "Completed": counts["Completed"],
            "Failed": counts["Failed"],
            "Stopped": counts["Stopped"],
        }
        worker_counts: WorkerCountsJson | None = None
        if workers is not None:
            worker_counts = {
                "Idle": workers.get("idle", 0),
                "Busy": workers.get("busy", 0),
                "Starting": workers.get("starting", 0),
            }
        return {
            "Version": __version__,
            "StartedAt": iso(opened) or "",
            "UptimeSeconds": round(max(0.0, (now - opened).total_seconds()), 3),
            "Isolation": config.isolation,
            "EventSeq": self._hub.seq,
            "Counts": state_counts,
            "Total": len(self._registry),
            "FailedLast24h": self._history.failed_since(now),
            "Throughput": self._history.per_minute(now),
            "QueueLength": counts["Queued"],  # every Queued task waits for a slot (with a shared store: anywhere)
            "SlotsInUse": slots.in_use,
            "MaxRunspaces": config.max_runspaces,
            "Workers": worker_counts,
            "StoreBytes": None if self._store is None else self._store.size_bytes(),
            "RetentionSeconds": config.retention_seconds,
            "MaxFinished": config.max_finished,
            "Running": [t.record() for t in running[:RUNNING_SHOWN]],
        }
