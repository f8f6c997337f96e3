"""The event hub: live events of each task for its subscribers (SSE, waiters), announced once durable.

Events are ``(kind, data)`` pairs of JSON-ready data:

- ``state``: the full task record, on every state change (and first, for a new subscriber);
- ``progress``: ``{Id, Progress}``; ``stream``: ``{Id, Index, Stream, Message, Time}``.

An event is delivered only after the store write that was pending when it happened is durable (the
journal observes first and queues the write; the hub waits for it), and a task's events keep their order.
A finished state sets the task's ``done`` event, so waiters learn of the end once it survives a crash.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..models import StreamRecord
from .entry import TaskEntry
from .journal import NullJournal
from .observers import TaskObserver
from .states import StateChange

Event = tuple[str, Any]
"""``(kind, data)``: kind ``state``, ``progress`` or ``stream``; data JSON-ready."""

_END: Event = ("end", None)
"""Sent to subscribers when the daemon shuts down: their iterators end."""


class EventHub(TaskObserver):
    """Subscribers per task and the fan-out of events to them (see the module docstring)."""

    name = "events"

    def __init__(self, journal: NullJournal) -> None:
        self._journal = journal
        self._subscribers: dict[TaskEntry, set[asyncio.Queue[Event]]] = {}
        self._held: dict[TaskEntry, deque[tuple[asyncio.Future[None] | None, Event, bool]]] = {}
        self._closed = False

    # -------------------------------------------------------------- announcing

    def _announce(self, task: TaskEntry, event: Event, final: bool = False) -> None:
        saved = task.saved
        pending = saved if saved is not None and not saved.done() else None
        held = self._held.get(task)
        if held is None and pending is None:
            self._deliver(task, event, final)
            return
        if held is None:
            held = self._held[task] = deque()
            held.append((pending, event, final))
            self._drain(task)
        else:
            held.append((pending, event, final))

    def _drain(self, task: TaskEntry) -> None:
        """Deliver the held events whose write is durable, in order; wait for the first that is not."""
        held = self._held.get(task)
        while held:
            pending, event, final = held[0]
            if pending is not None and not pending.done():
                pending.add_done_callback(lambda _write: self._drain(task))
                return
            held.popleft()
            self._deliver(task, event, final)
        self._held.pop(task, None)

    def _deliver(self, task: TaskEntry, event: Event, final: bool) -> None:
        for queue in self._subscribers.get(task, ()):
            queue.put_nowait(event)
        if final:
            task.done.set()

    def drop_held(self, task: TaskEntry) -> None:
        """Forget the task's events still waiting for their write (a shared store refused that write)."""
        self._held.pop(task, None)

    # -------------------------------------------------------------- TaskObserver

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """Announce the new state (a final one after its last progress, then set ``done``)."""
        if change.new.finished:
            self.progressed(task)
        self._announce(task, ("state", task.record()), final=change.new.finished)

    def progressed(self, task: TaskEntry) -> None:
        """Announce the task's progress."""
        if task in self._subscribers or task in self._held:
            self._announce(task, ("progress", {"Id": task.id, "Progress": task.data.progress.to_json()}))

    def wrote(self, task: TaskEntry, records: Sequence[StreamRecord]) -> None:
        """Announce each new record (only tasks with subscribers pay for it)."""
        if task in self._subscribers or task in self._held:
            for r in records:
                self._announce(task, ("stream", {"Id": task.id, **r.to_json()}))

    def removed(self, tasks: Sequence[TaskEntry]) -> None:
        """End the removed tasks' subscriptions."""
        for task in tasks:
            for queue in self._subscribers.get(task, ()):
                queue.put_nowait(_END)

    # -------------------------------------------------------------- subscribing

    async def subscribe(self, task: TaskEntry) -> AsyncIterator[Event]:
        """The task's events: its current record as ``state`` first, then each event as it is announced;
        ends after a finished state, on removal and on :meth:`close`."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.setdefault(task, set()).add(queue)
        try:
            first = task.record()
            yield "state", first
            if first["State"].finished or (self._closed and queue.empty()):
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

    def close(self) -> None:
        """End every subscription (the daemon is shutting down)."""
        self._closed = True
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(_END)
