"""The mirror: a node's registry kept equal to the shared store's task set, and the changes announced.

Every node keeps every task in its registry (as a daemon over SQLite does), so reads (get, list, result,
streams) answer from memory. Rows reach the mirror from the node's own commands and claims, from
notifications (``t:<key>``/``d:<key>``, fetched in batches) and from the change feed polled every
``poll_seconds`` (which also covers lost notifications and a broken listening connection). A row is taken
in only when its ``version`` is newer than the entry's, so the paths can race harmlessly.

Taking in a row of a task this node runs changes only its name, description and cancel request (the node
is the one writer of a run it holds). Any other row replaces the entry's data; new stream records are
fetched (``records_count``); the hub announces state, progress and records to this node's subscribers,
so SSE and ``/wait`` follow a task running on another node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence

from ...models import StreamRecord, TaskState
from ...store.postgres import PostgresTaskStore
from ...store.postgres_schema import Row, key_of
from ..engineset import EngineSet
from ..entry import TaskEntry
from ..hub import EventHub
from ..registry import Registry
from ..states import StateChange, reachable

log = logging.getLogger("krtasks.cluster")

TOMBSTONE_SECONDS = 600.0
"""How long a removed key is remembered, so a row read before its deletion cannot bring it back (seconds)."""


class Mirror:
    """Keeps ``registry`` equal to the store's tasks (see the module docstring).

    ``node``: this node's id. ``on_cancel(entry)`` is called when a task this node runs was asked to stop
    from another node.
    """

    def __init__(
        self,
        store: PostgresTaskStore,
        registry: Registry,
        hub: EventHub,
        engines: EngineSet,
        node: str,
        on_cancel: Callable[[TaskEntry], None],
    ) -> None:
        self._store = store
        self._registry = registry
        self.registry = registry
        self._hub = hub
        self._engines = engines
        self._node = node
        self._on_cancel = on_cancel
        self.horizon: str | None = None
        self._tombstones: dict[str, tuple[int, float]] = {}
        self._wanted: dict[str, int] = {}
        """Keys notified and not fetched yet, with the highest version notified (0: not said)."""
        self.skipped = 0
        """Notified changes not fetched because the entry had that version already (for tests and metrics)."""
        self._fetcher: asyncio.Task[None] | None = None

    # -------------------------------------------------------------- loading and polling

    async def load(self) -> int:
        """Take in every stored task (at open); the feed starts from before the load. Returns the count."""
        self.horizon = await self._store.horizon()
        rows, records = await self._store.rows()
        for row in rows:
            self._take(row, records.get(row.key, []))
        return len(rows)

    async def poll(self) -> None:
        """Take in what the change feed has since the last poll.

        Raises:
            psycopg.Error: the store cannot be read (the caller retries on its next tick).
        """
        if self.horizon is None:
            self.horizon = await self._store.horizon()
        feed = await self._store.feed(self.horizon)
        self.removed(feed.removed, only_if_absent={r.key for r in feed.rows})
        await self.apply(feed.rows)
        self.horizon = feed.horizon

    def notified(self, payload: str) -> None:
        """Handle a ``t:<key>:<version>`` (or, from schema 2, ``t:<key>``) or ``d:<key>`` notification
        (others are ignored)."""
        kind, _, rest = payload.partition(":")
        if kind == "d":
            self.removed([rest])
        elif kind == "t":
            key, _, tail = rest.rpartition(":")
            version = int(tail) if key and tail.isdigit() else 0
            key = key if version else rest  # keys may hold ":" themselves
            self._wanted[key] = max(version, self._wanted.get(key, 0))
            if self._fetcher is None or self._fetcher.done():
                self._fetcher = asyncio.get_running_loop().create_task(self._fetch_wanted(), name="krtasks-mirror")

    def _known(self, key: str, version: int) -> bool:
        """True when the entry already has ``version`` (0: unknown, never known)."""
        entry = self._registry.find(key)
        return version > 0 and entry is not None and entry.version >= version

    async def _fetch_wanted(self) -> None:
        # One loop turn first: the answer to this node's own write (which carries the version) is usually
        # taken in by then, and the row need not be fetched at all.
        await asyncio.sleep(0)
        while self._wanted:
            wanted, self._wanted = self._wanted, {}
            keys = [k for k, v in wanted.items() if not self._known(k, v)]
            self.skipped += len(wanted) - len(keys)
            if not keys:
                continue
            try:
                await self.refresh(keys)
            except Exception as exc:  # the poll catches up within poll_seconds
                log.warning("fetching changed tasks failed (%s); the next poll takes them in", exc)
                return

    async def refresh(self, keys: Sequence[str]) -> None:
        """Fetch these keys' rows now and take them in (a key with no row is removed)."""
        rows = await self._store.fetch(keys)
        found = {r.key for r in rows}
        self.removed([k for k in keys if k not in found])
        await self.apply(rows)

    async def take_back(self, entry: TaskEntry) -> None:
        """Take the stored row of a run this node lost in (its version was reset, so any row replaces it); a
        store that cannot be reached now leaves it to the next poll."""
        try:
            await self.refresh([key_of(entry.id)])
        except Exception as exc:
            log.warning("fetching task %s after its run was lost failed (%s); the next poll takes it in", entry.id, exc)

    async def ensure(self, task_id: str) -> TaskEntry | None:
        """The task's entry, fetched from the store first when this node has not seen it yet."""
        entry = self._registry.find(task_id)
        if entry is None:
            await self.refresh([key_of(task_id)])
            entry = self._registry.find(task_id)
        return entry

    # -------------------------------------------------------------- taking rows in

    async def apply(self, rows: Sequence[Row]) -> list[TaskEntry]:
        """Take in these rows (fetching their new stream records first); the entries, in order."""
        wanted = []
        for row in rows:
            entry = self._registry.find(row.data.id)
            have = len(entry.records) if entry is not None and entry.data.seq == row.data.seq else 0
            if row.records_count > have and (entry is None or entry.run is None):
                wanted.append((row.key, have))
        records = await self._store.records(wanted) if wanted else {}
        out = []
        for row in rows:
            entry = self._take(row, records.get(row.key, []))
            if entry is not None:
                out.append(entry)
        return out

    def _take(self, row: Row, records: Sequence[StreamRecord]) -> TaskEntry | None:
        gone = self._tombstones.get(row.key)
        if gone is not None and row.data.seq <= gone[0]:
            return None  # read before its deletion
        entry = self._registry.find(row.data.id)
        if entry is not None and entry.data.seq != row.data.seq:  # the id was removed and taken again
            self._discard(entry)
            entry = None
        if entry is None:
            entry = TaskEntry(row.data, records=list(records), version=row.version)
            self._registry.add(entry)  # links it to its parent and its waiting children, either order
            if row.data.state.finished:
                entry.done.set()
            return entry
        if row.version <= entry.version:
            return entry
        if entry.done.is_set() and not reachable(entry.state, row.data.state):
            # An older copy of a task whose end this node made durable (states only move forward): a row
            # read before that write. A run this node lost never got there, so the rescuer's row replaces it.
            return entry
        entry.version = row.version
        writing = entry.saved is not None and not entry.saved.done()
        if entry.run is not None or writing:
            # This node runs it, or its write of the run's end is in flight (the row may be older than that
            # write): it alone writes the run; a refused write takes the row in afterwards (take_back).
            entry.data.name, entry.data.description = row.data.name, row.data.description
            run = entry.run
            if (
                run is not None
                and row.cancel_requested
                and entry.state == TaskState.RUNNING
                and run.stop_reason is None
            ):
                self._on_cancel(entry)
            return entry
        old = entry.data
        entry.data = row.data
        if row.records_count < len(entry.records):  # records of a run this node lost, never durable
            del entry.records[row.records_count :]
        new = [r for r in records if r.index >= len(entry.records)]
        if new:
            entry.records.extend(new)
            self._hub.wrote(entry, new)
        if old.state != row.data.state or (
            row.data.state.finished and not entry.done.is_set() and not self._hub.holds(entry)
        ):  # a new state; or a lost run's final state, its own announcement dropped with its refused write
            self._hub.changed(entry, StateChange(old.state, row.data.state))
        elif old.progress != row.data.progress:
            self._hub.progressed(entry)
        if entry.prepared is not None and (
            row.data.state.finished or (row.data.state.active and row.data.node != self._node)
        ):
            self._engines.release(entry)  # another node runs it, or it is over: this node's code is not needed
        return entry

    # -------------------------------------------------------------- removals

    def removed(self, keys: Iterable[str], only_if_absent: set[str] | None = None) -> None:
        """Forget these keys' tasks (deleted in the store), ending their subscriptions."""
        now = time.monotonic()
        for key in keys:
            if only_if_absent is not None and key in only_if_absent:
                continue  # removed, then created again: the new row follows
            entry = self._registry.find(key)
            if entry is not None:
                self._tombstones[key] = (entry.data.seq, now)
                self._discard(entry)
        if len(self._tombstones) > 10_000 or any(now - t > TOMBSTONE_SECONDS for _, t in self._tombstones.values()):
            self._tombstones = {k: v for k, v in self._tombstones.items() if now - v[1] <= TOMBSTONE_SECONDS}

    def forget(self, subtree: Sequence[TaskEntry]) -> None:
        """This node removed these tasks from the store: forget them the same way."""
        now = time.monotonic()
        for t in subtree:
            self._tombstones[key_of(t.id)] = (t.data.seq, now)
            self._discard(t)

    def _discard(self, entry: TaskEntry) -> None:
        self._registry.discard([entry])
        self._engines.release(entry)
        self._hub.removed([entry])

    async def close(self) -> None:
        """Stop fetching."""
        if self._fetcher is not None:
            self._fetcher.cancel()
