"""The event hub: live events for subscribers (SSE, waiters), announced once durable.

Two kinds of subscription:

- **per task** (:meth:`EventHub.subscribe`): ``(kind, data)`` pairs — ``state`` (the full record, on every
  state change, and first), ``progress`` (``{Id, Progress}``), ``stream`` (``{Id, Index, Stream, Message,
  Time}``); it ends after a finished state;
- **server-wide** (:meth:`EventHub.feed`): ``(seq, kind, data)`` for every task — ``created`` (the record),
  ``state`` (the record plus ``PreviousState``), ``progress`` (``{Id, Progress}``), ``removed`` (``{Id,
  State, ParentId, CompletedAt}``, one per task of a removed subtree). ``seq`` numbers these events in the
  order the changes happened (1, 2, ...); :attr:`EventHub.seq` is the number of the last change made, so a
  snapshot of the registry taken at ``seq`` S already shows every event numbered ≤ S. Each feed holds at
  most :data:`FEED_LIMIT` undelivered events: a subscriber that falls further behind has its feed ended
  (it reconnects and reads a fresh snapshot) instead of growing the daemon's memory.

An event is delivered only after the store write that was pending when it happened is durable (the
journal observes first and queues the write; the hub waits for it), and a task's events keep their order.
A finished state sets the task's ``done`` event, so waiters learn of the end once it survives a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import RemovedEventJson, ServerStateEventJson, StreamRecord
from ..records import iso
from .entry import TaskEntry
from .journal import NullJournal
from .observers import TaskObserver
from .states import StateChange

log = logging.getLogger("krtasks.core")

Event = tuple[str, Any]
"""``(kind, data)`` of a task's own events: kind ``state``, ``progress`` or ``stream``; data JSON-ready."""

FeedEvent = tuple[int, str, Any]
"""``(seq, kind, data)`` of the server-wide feed: kind ``created``, ``state``, ``progress`` or ``removed``."""

FEED_LIMIT = 2000
"""Most events a server-wide subscriber may have waiting; beyond it its feed ends."""

_END: Event = ("end", None)
"""Sent to subscribers when the daemon shuts down: their iterators end."""


@dataclass(slots=True)
class _Announcement:
    """What one change tells: the event for the task's own subscribers and the one for feeds (either may
    be None), whether it is the task's final state, and the store write it waits for."""

    pending: asyncio.Future[None] | None
    event: Event | None
    feed_event: FeedEvent | None
    final: bool = False


class _Feed:
    """One server-wide subscriber's bounded queue."""

    def __init__(self, limit: int) -> None:
        self.items: deque[FeedEvent] = deque()
        self.limit = limit
        self.ended = False
        self.lagged = False
        self.wake = asyncio.Event()

    def push(self, item: FeedEvent) -> None:
        if self.ended:
            return
        if len(self.items) >= self.limit:
            self.lagged = self.ended = True
            self.items.clear()
        else:
            self.items.append(item)
        self.wake.set()

    def end(self) -> None:
        self.ended = True
        self.wake.set()


class FeedSubscription:
    """One server-wide subscription: an async iterator of :data:`FeedEvent`; :meth:`aclose` ends it."""

    def __init__(self, feed: _Feed, leave: Callable[[_Feed], None]) -> None:
        self._feed = feed
        self._leave = leave

    def __aiter__(self) -> FeedSubscription:
        return self

    async def __anext__(self) -> FeedEvent:
        feed = self._feed
        while not feed.items:
            if feed.ended:
                await self.aclose()
                if feed.lagged:
                    log.info("a server-wide event subscriber fell %d events behind; its feed ended", feed.limit)
                raise StopAsyncIteration
            feed.wake.clear()
            await feed.wake.wait()
        return feed.items.popleft()

    async def aclose(self) -> None:
        """Leave the feed (idempotent)."""
        self._feed.ended = True
        self._leave(self._feed)


class EventHub(TaskObserver):
    """Subscribers per task and server-wide, and the fan-out of events to them (see the module docstring)."""

    name = "events"

    def __init__(self, journal: NullJournal) -> None:
        self._journal = journal
        self._subscribers: dict[TaskEntry, set[asyncio.Queue[Event]]] = {}
        self._feeds: set[_Feed] = set()
        self._held: dict[TaskEntry, deque[_Announcement]] = {}
        self._closed = asyncio.Event()
        self.seq = 0
        """Number of the last server-wide event made (announced or still waiting for its write)."""

    # -------------------------------------------------------------- announcing

    def _announce(
        self, task: TaskEntry, event: Event | None, feed: tuple[str, Any] | None, final: bool = False
    ) -> None:
        numbered = None
        if feed is not None:
            self.seq += 1
            numbered = (self.seq, *feed)
        saved = task.saved
        pending = saved if saved is not None and not saved.done() else None
        announcement = _Announcement(pending, event, numbered, final)
        held = self._held.get(task)
        if held is None and pending is None:
            self._deliver(task, announcement)
        elif held is None:
            self._held[task] = deque([announcement])
            self._drain(task)
        else:
            held.append(announcement)

    def _drain(self, task: TaskEntry) -> None:
        """Deliver the held events whose write is durable, in order; wait for the first that is not."""
        held = self._held.get(task)
        while held:
            pending = held[0].pending
            if pending is not None and not pending.done():
                pending.add_done_callback(lambda _write: self._drain(task))
                return
            self._deliver(task, held.popleft())
        self._held.pop(task, None)

    def _deliver(self, task: TaskEntry, announcement: _Announcement) -> None:
        if announcement.event is not None:
            for queue in self._subscribers.get(task, ()):
                queue.put_nowait(announcement.event)
        if announcement.feed_event is not None:
            for feed in self._feeds:
                feed.push(announcement.feed_event)
        if announcement.final:
            task.done.set()

    def _watched(self, task: TaskEntry) -> bool:
        return bool(self._feeds) or task in self._subscribers or task in self._held

    def holds(self, task: TaskEntry) -> bool:
        """True while some of the task's events wait for their write."""
        return task in self._held

    def drop_held(self, task: TaskEntry) -> None:
        """Forget the task's events still waiting for their write (a shared store refused that write)."""
        self._held.pop(task, None)

    # -------------------------------------------------------------- TaskObserver

    def created(self, task: TaskEntry) -> None:
        """Announce the new task to the feeds."""
        self._announce(task, None, ("created", task.record()))

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """Announce the new state (a final one after its last progress, then set ``done``)."""
        if change.new.finished:
            self.progressed(task)
        record = task.record()
        feed: ServerStateEventJson = {**record, "PreviousState": change.old}
        self._announce(task, ("state", record), ("state", feed), final=change.new.finished)

    def progressed(self, task: TaskEntry) -> None:
        """Announce the task's progress."""
        if self._watched(task):
            data = {"Id": task.id, "Progress": task.data.progress.to_json()}
            self._announce(task, ("progress", data), ("progress", data))

    def wrote(self, task: TaskEntry, records: Sequence[StreamRecord]) -> None:
        """Announce each new record to the task's subscribers (only tasks with subscribers pay for it)."""
        if task in self._subscribers or task in self._held:
            for r in records:
                self._announce(task, ("stream", {"Id": task.id, **r.to_json()}), None)

    def removed(self, tasks: Sequence[TaskEntry]) -> None:
        """End the removed tasks' subscriptions; tell the feeds once the removal is durable (the root's
        write is the deletion of the whole subtree)."""
        for task in tasks:
            for queue in self._subscribers.get(task, ()):
                queue.put_nowait(_END)
            d = task.data
            gone: RemovedEventJson = {
                "Id": d.id,
                "State": d.state,
                "ParentId": d.parent_id,
                "CompletedAt": iso(d.completed_at),
            }
            self._announce(tasks[0], None, ("removed", gone))

    # -------------------------------------------------------------- subscribing

    async def subscribe(self, task: TaskEntry) -> AsyncIterator[Event]:
        """The task's events: its current record as ``state`` first, then each event as it is announced;
        ends after a finished state, on removal and on :meth:`close`."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.setdefault(task, set()).add(queue)
        try:
            first = task.record()
            yield "state", first
            if first["State"].finished or (self._closed.is_set() and queue.empty()):
                return
            while True:
                event = await queue.get()
                if event is _END:
                    return
                yield event
                if event[0] == "state" and event[1]["State"].finished:
                    return
        finally:
            subscribers = self._subscribers.get(task)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[task]

    def feed(self) -> FeedSubscription:
        """Every task's events from now on (the subscription starts before this returns), in delivery order
        (see the module docstring); it ends on :meth:`close` or when the subscriber lags more than
        :data:`FEED_LIMIT` events behind."""
        feed = _Feed(FEED_LIMIT)
        if self._closed.is_set():
            feed.end()
        else:
            self._feeds.add(feed)
        return FeedSubscription(feed, self._feeds.discard)

    async def wait(self, task: TaskEntry, timeout: float | None) -> None:
        """Return once the task has finished (durably), after ``timeout`` seconds (None: no limit), or when
        the hub closes."""
        if task.done.is_set() or self._closed.is_set():
            return
        waits = [asyncio.ensure_future(task.done.wait()), asyncio.ensure_future(self._closed.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def close(self) -> None:
        """End every subscription and wait (the daemon is shutting down)."""
        self._closed.set()
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(_END)
        for feed in self._feeds:
            feed.end()
