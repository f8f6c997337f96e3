"""A daemon alone over its own store (SQLite, or none): what a node of a shared store does for the
service, done for one daemon. It restores the store's tasks at open, applies retention through the
service's removal, and lists itself as the one node. :class:`~krtasks.core.cluster.node.ClusterNode` is
the same part for a shared store; :class:`~krtasks.core.assembly.Node` is what both offer."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime

from .. import __version__
from ..models import NodeJson, ServiceConfig
from ..records import iso, utc_now
from ..store import TaskStore
from . import retention
from .engineset import EngineSet
from .registry import Registry
from .restore import restore
from .supervisor import RunSupervisor

LOCAL_NODE_ID = "local"
"""The node id a daemon over its own store lists itself under."""


class LocalNode:
    """The service's daemon, alone. ``remove(task_id)`` removes a finished subtree as the service's
    ``remove`` does (retention goes through it, so prepared code is freed and the store written);
    ``clock`` gives UTC "now" for the tasks a restore fails."""

    def __init__(
        self,
        config: ServiceConfig,
        registry: Registry,
        engines: EngineSet,
        supervisor: RunSupervisor,
        store: TaskStore | None,
        clock: Callable[[], datetime],
        remove: Callable[[str], Awaitable[object]],
    ) -> None:
        self._config = config
        self._registry = registry
        self._engines = engines
        self._supervisor = supervisor
        self._store = store
        self._clock = clock
        self._remove = remove
        self._started_at = clock()

    async def open(self) -> None:
        """Restore the store's tasks (see :func:`krtasks.core.restore.restore`).

        Raises:
            Exception: the store's error when it cannot be read or written.
        """
        if self._store is not None:
            await restore(self._store, self._registry, self._engines, self._clock)

    async def close(self) -> None:
        """Nothing to release (the caller closes the store)."""

    async def known(self, task_id: str) -> None:
        """Every task is in the registry already: nothing to fetch."""

    @property
    def queue_length(self) -> int:
        """Tasks waiting in Queued for one of this daemon's slots."""
        return len(self._supervisor.slots)

    async def nodes(self) -> list[NodeJson]:
        """This daemon as the one node (id :data:`LOCAL_NODE_ID`, heartbeat now)."""
        return [
            {
                "Id": LOCAL_NODE_ID,
                "Host": socket.gethostname(),
                "Pid": os.getpid(),
                "Version": __version__,
                "StartedAt": iso(self._started_at) or "",
                "HeartbeatAt": iso(utc_now()) or "",
                "Slots": self._config.max_runspaces,
                "Running": self._supervisor.slots.in_use,
            }
        ]

    async def sweep(self, now: datetime) -> int:
        """Retention as of ``now`` (see :func:`krtasks.core.retention.sweep`); how many subtrees went."""
        cfg = self._config
        return await retention.sweep(self._registry, now, cfg.retention_seconds, cfg.max_finished, self._remove)
