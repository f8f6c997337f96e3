"""The fenced journal: writes the runs this node holds to the shared store, and only while it holds them.

In a cluster the commands (create, start, cancel, rename, remove) change the store first and the mirror
takes the result in; what goes through the node's lifecycle, and so through here, is its runs: state
changes (Stopping and the final state; Running was written by the claim), progress, stream records and
output. Each write is fenced (:meth:`~krtasks.store.postgres.PostgresTaskStore.write_run`): when the
store answers that the node no longer holds the run, ``on_lost(task)`` is called once and nothing more
is written for that run. Progress and records are batched every
:data:`~krtasks.core.journal.RECORD_FLUSH_SECONDS`; a state change carries the task's pending records in
its transaction, so a final state and its records are durable together.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ...models import StreamRecord, TaskState
from ...store.postgres import PostgresTaskStore
from ..entry import TaskEntry
from ..journal import RECORD_FLUSH_SECONDS, NullJournal
from ..states import StateChange

log = logging.getLogger("krtasks.cluster")


class FencedJournal(NullJournal):
    """See the module docstring. ``node``: this node's id."""

    def __init__(self, store: PostgresTaskStore, node: str, on_lost: Callable[[TaskEntry], None]) -> None:
        self._store = store
        self._node = node
        self._on_lost = on_lost
        self._pending: dict[TaskEntry, list[StreamRecord]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[int | None]] = set()
        self.written: dict[TaskEntry, int] = {}
        """Stream records of each held run known durable (a lost run keeps only those)."""

    def _write(self, task: TaskEntry, final: bool) -> None:
        run = task.run
        if run is not None and run.lost:
            return
        records = self._pending.pop(task, [])
        write = self._store.write_run(copy.copy(task.data), self._node, records, final=final)
        task.saved = write
        self._writes.add(write)
        count = records[-1].index + 1 if records else None
        write.add_done_callback(lambda w: self._done(task, w, count, final))

    def _done(self, task: TaskEntry, write: asyncio.Future[int | None], count: int | None, final: bool) -> None:
        self._writes.discard(write)
        if write.cancelled():
            return
        exc = write.exception()
        if exc is not None:
            log.error("writing task %s to the shared store failed: %s", task.id, exc)
        elif (version := write.result()) is None:
            log.warning("task %s: this node no longer holds its run (lease expired); it writes nothing more", task.id)
            self._on_lost(task)
        else:
            # The entry is this version now: a row read before the write (a notification of an earlier one)
            # must not replace it.
            task.version = max(task.version, version)
            if count is not None:
                self.written[task] = max(self.written.get(task, 0), count)
        if final:
            self.written.pop(task, None)

    # -------------------------------------------------------------- TaskObserver

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """Write the run's new state (Running itself was written by the claim)."""
        if change.new != TaskState.RUNNING:
            self._write(task, final=change.new.finished)

    def progressed(self, task: TaskEntry) -> None:
        """Write the progress with the next batch."""
        self._pending.setdefault(task, [])
        self._schedule()

    def wrote(self, task: TaskEntry, records: Sequence[Any]) -> None:
        """Buffer the records for the next batch."""
        self._pending.setdefault(task, []).extend(records)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(RECORD_FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write the batched progress and records of every run now (one fenced write per run)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._pending):
            if task.run is None:  # ended meanwhile: its final write took the records
                self._pending.pop(task, None)
            else:
                self._write(task, final=False)

    def forget(self, task: TaskEntry) -> None:
        """Drop what is buffered for a lost run (:attr:`written` keeps its count until the run is let go)."""
        self._pending.pop(task, None)

    async def close(self) -> None:
        """Write what is buffered, then wait for every write in flight."""
        self.flush()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
