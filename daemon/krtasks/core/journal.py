"""The journal: writes every acknowledged change of a task through to the store.

Creation, every state change, rename and removal are queued to the store in call order and the service
answers only once they are durable (:meth:`NullJournal.durable`); the rows changed in one event-loop turn
go in one write (a task created and started together: one commit). Stream records are batched: written
every :data:`RECORD_FLUSH_SECONDS`, and with a task's final row, so both are durable together.
Without a store, :class:`NullJournal` keeps the same interface and everything is durable at once.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..store import StoredRecord, TaskStore
from .entry import TaskEntry
from .observers import TaskObserver
from .registry import key
from .states import StateChange

log = logging.getLogger("krtasks.core")

RECORD_FLUSH_SECONDS = 0.5
"""How long new stream records may wait before they are written to the store as one batch (seconds)."""


class NullJournal(TaskObserver):
    """The journal of a service without a store: nothing to write, everything durable at once."""

    name = "journal"

    async def durable(self, task: TaskEntry) -> None:
        """Return once the task's last queued write is durable.

        Raises:
            Exception: the store's error for that write.
        """
        if task.saved is not None:
            # Shielded: a cancelled caller must not cancel a write the registry already reflects.
            await asyncio.shield(task.saved)

    def when_durable(self, task: TaskEntry, callback: Callable[[], Any]) -> None:
        """Call ``callback`` once the task's last queued write has completed (or failed); at once if none is
        pending."""
        if task.saved is None or task.saved.done():
            callback()
        else:
            task.saved.add_done_callback(lambda _write: callback())

    def flush(self) -> None:
        """Hand buffered stream records to the store now."""

    async def close(self) -> None:
        """Write what is buffered and wait for every write in flight (failures were logged)."""


class StoreJournal(NullJournal):
    """The journal over a :class:`~krtasks.store.TaskStore` (see the module docstring).

    Row writes are coalesced per event-loop turn: every task changed in one stretch of synchronous code (a
    task created and started by one request, many tasks finishing at once) is written by one
    :meth:`~krtasks.store.TaskStore.put`, one transaction. Records buffered for a task that finishes ride in
    the same write as its final row. Each changed task's ``saved`` is the future of that write.
    """

    def __init__(self, store: TaskStore) -> None:
        self._store = store
        self._unsaved: list[StoredRecord] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[None]] = set()
        self._dirty: dict[str, TaskEntry] = {}
        self._records_now: list[StoredRecord] = []
        self._next: asyncio.Future[None] | None = None

    def _batch(self) -> asyncio.Future[None]:
        """The future of the next coalesced write, scheduled for the end of this loop turn."""
        if self._next is None:
            loop = asyncio.get_running_loop()
            self._next = loop.create_future()
            loop.call_soon(self._send)
        return self._next

    def _persist(self, task: TaskEntry) -> None:
        self._dirty[key(task.id)] = task
        task.saved = self._batch()

    def _send(self) -> None:
        """Hand the coalesced rows and records to the store as one write (no-op when already sent)."""
        future, self._next = self._next, None
        if future is None:
            return
        # Shallow copies: what the core changes later (state, progress, output) is replaced, never mutated.
        rows = [copy.copy(t.data) for t in self._dirty.values()]
        records, self._records_now = self._records_now, []
        self._dirty.clear()
        if not rows and not records:
            future.set_result(None)
            return
        try:
            write = self._track(self._store.put(rows, records))
        except Exception as exc:  # the store refused at once (closed): the waiters get its error
            log.error("writing to the task store failed: %s", exc)
            future.set_exception(exc)
            return

        def settle(done: asyncio.Future[None]) -> None:
            if future.done():
                return
            if done.cancelled():
                future.cancel()
            elif done.exception() is not None:
                future.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                future.set_result(None)

        write.add_done_callback(settle)

    def _track(self, write: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.ensure_future(write)
        self._writes.add(future)
        future.add_done_callback(self._write_done)
        return future

    def _write_done(self, write: asyncio.Future[None]) -> None:
        self._writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            log.error("writing to the task store failed: %s", write.exception())

    def created(self, task: TaskEntry) -> None:
        """Queue the new task's row."""
        self._persist(task)

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """Queue the task's row; a final state takes the task's buffered records along."""
        if change.new.finished:
            self._take_records()
        self._persist(task)

    def updated(self, task: TaskEntry) -> None:
        """Queue the renamed task's row."""
        self._persist(task)

    def wrote(self, task: TaskEntry, records: Sequence[Any]) -> None:
        """Buffer the records; they are written within :data:`RECORD_FLUSH_SECONDS`."""
        self._unsaved.extend((task.id, r.index, r.stream, r.message, r.time) for r in records)
        if self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(RECORD_FLUSH_SECONDS, self.flush)

    def removed(self, tasks: Sequence[TaskEntry]) -> None:
        """Queue the deletion after what is pending; the root's ``saved`` is that write. Buffered records of
        the removed tasks are dropped first, so they cannot reach a later task that reuses an id."""
        gone = {key(t.id) for t in tasks}
        self._unsaved = [r for r in self._unsaved if key(r[0]) not in gone]
        self._records_now = [r for r in self._records_now if key(r[0]) not in gone]
        self._send()  # writes reach the store in call order: what was queued before goes first
        tasks[0].saved = self._track(self._store.delete([t.id for t in tasks]))

    def _take_records(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._unsaved:
            self._records_now.extend(self._unsaved)
            self._unsaved = []

    def flush(self) -> None:
        """Hand the buffered stream records of all tasks (and any pending rows) to the store as one write."""
        self._take_records()
        if self._records_now or self._dirty:
            self._batch()
            self._send()

    async def close(self) -> None:
        """Write the buffered records, then wait for every write in flight."""
        self.flush()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


def open_journal(store: TaskStore | None) -> NullJournal:
    """The journal for ``store`` (a :class:`NullJournal` without one)."""
    return NullJournal() if store is None else StoreJournal(store)
