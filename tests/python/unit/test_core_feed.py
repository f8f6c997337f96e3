"""The server-wide event feed: every task's created/state/progress/removed events, numbered, announced once
durable, bounded per subscriber; and the overview snapshot it is consistent with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from krtasks.core import hub
from krtasks.core.hub import FeedEvent
from krtasks.core.service import TaskService
from krtasks.engines.base import StepReport
from krtasks.models import Progress, TaskSpec
from krtasks.store import open_store
from unit.fakes import FakeEngines, Script, ServiceFactory, run, until


class Listener:
    """Collects a feed in the background."""

    def __init__(self, feed: AsyncIterator[FeedEvent]) -> None:
        self.events: list[FeedEvent] = []
        self.ended = False
        self._task = asyncio.ensure_future(self._run(feed))

    async def _run(self, feed: AsyncIterator[FeedEvent]) -> None:
        async for event in feed:
            self.events.append(event)
        self.ended = True

    def kinds(self, task_id: str | None = None) -> list[str]:
        return [k for _s, k, d in self.events if task_id is None or d["Id"] == task_id]

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def listen(svc: TaskService) -> Listener:
    listener = Listener(svc.feed())
    await asyncio.sleep(0)  # subscribed
    return listener


async def test_every_task_life_in_order(svc: TaskService, engines: FakeEngines) -> None:
    engines.scripts["talks"] = Script(
        steps=[StepReport(False, [("Warning", "w", "t")], Progress(40, "Working", "Copying"))]
    )
    listener = await listen(svc)
    a = await run(svc, "talks", name="a")
    b = await svc.create(TaskSpec(code="1", name="b"))
    await svc.cancel(b["Id"])
    await svc.remove(a["Id"])
    await until(lambda: "removed" in listener.kinds())
    assert listener.kinds(a["Id"]) == ["created", "state", "progress", "progress", "state", "removed"]
    assert listener.kinds(b["Id"]) == ["created", "progress", "state"]  # a final state brings its progress
    seqs = [s for s, _k, _d in listener.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    data = {(k, d.get("State")): d for _s, k, d in listener.events if d["Id"] == a["Id"]}
    assert data[("created", "NotStarted")]["Name"] == "a"
    assert data[("state", "Running")]["PreviousState"] == "NotStarted"
    assert data[("state", "Completed")]["PreviousState"] == "Running"
    assert data[("removed", "Completed")] == {
        "Id": a["Id"],
        "State": "Completed",
        "ParentId": "",
        "CompletedAt": data[("state", "Completed")]["CompletedAt"],
    }
    progress = [d["Progress"] for _s, k, d in listener.events if k == "progress"]
    assert progress[0]["StatusMessage"] == "Working" and progress[0]["Activity"] == "Copying"
    assert "stream" not in listener.kinds()  # stream records are per-task only
    await listener.stop()


async def test_a_removed_subtree_tells_each_task(svc: TaskService) -> None:
    parent = await svc.create(TaskSpec(code="1", name="p"))
    child = await svc.create(TaskSpec(code="1", parent_id=parent["Id"]))
    listener = await listen(svc)
    await svc.remove(parent["Id"])
    await until(lambda: len(listener.events) == 2)
    assert [(k, d["Id"], d["ParentId"]) for _s, k, d in listener.events] == [
        ("removed", parent["Id"], ""),
        ("removed", child["Id"], parent["Id"]),
    ]
    await listener.stop()


async def test_events_are_announced_once_durable(make_service: ServiceFactory, tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        async with make_service(store=store) as svc:
            seen_in_store: list[bool] = []

            async def watch() -> None:
                async for _seq, kind, data in svc.feed():
                    if kind == "created":
                        stored = await store.load()
                        seen_in_store.append(any(t.data.id == data["Id"] for t in stored))
                        return

            watcher = asyncio.ensure_future(watch())
            await asyncio.sleep(0)
            await svc.create(TaskSpec(code="1"))
            await asyncio.wait_for(watcher, 5)
            assert seen_in_store == [True]
    finally:
        await store.close()


async def test_a_lagging_subscriber_is_ended_not_buffered(svc: TaskService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "FEED_LIMIT", 5)
    slow = svc.feed()
    first = asyncio.ensure_future(anext(slow))  # subscribed, then it reads nothing for a while
    await asyncio.sleep(0)
    for _ in range(4):
        await svc.create(TaskSpec(code="1"))  # 4 events: one taken, 3 waiting
    assert (await first)[1] == "created"
    for _ in range(10):
        await svc.create(TaskSpec(code="1"))  # more than 5 waiting: the feed ends
    rest = [e async for e in slow]
    assert rest == []
    fresh = await listen(svc)  # others are not affected
    await svc.create(TaskSpec(code="1"))
    await until(lambda: fresh.kinds() == ["created"])
    await fresh.stop()


async def test_shutdown_ends_every_feed(make_service: ServiceFactory) -> None:
    async with make_service() as svc:
        listener = await listen(svc)
        await svc.shutdown(0.1)
        await until(lambda: listener.ended)
        assert [e async for e in svc.feed()] == []  # nothing after shutdown


async def test_snapshot_and_feed_agree_on_event_numbers(svc: TaskService, engines: FakeEngines) -> None:
    gate = asyncio.Event()
    engines.scripts["slow"] = Script(gate=gate)
    listener = await listen(svc)
    before = await svc.create(TaskSpec(code="slow", auto_start=True))
    snapshot = svc.overview()
    after = await svc.create(TaskSpec(code="1"))
    gate.set()
    await svc.wait(before["Id"], 5)
    await until(lambda: listener.kinds(before["Id"])[-1:] == ["state"] and len(listener.kinds(before["Id"])) >= 4)
    shown = [(k, d["Id"]) for s, k, d in listener.events if s <= snapshot["EventSeq"]]
    newer = [(k, d["Id"]) for s, k, d in listener.events if s > snapshot["EventSeq"]]
    # What the snapshot shows (created, started) is numbered up to EventSeq; what came later after it.
    assert shown == [("created", before["Id"]), ("state", before["Id"])]
    assert snapshot["Counts"]["Running"] == 1 and snapshot["Running"][0]["Id"] == before["Id"]
    assert ("created", after["Id"]) in newer and ("state", before["Id"]) in newer
    await listener.stop()


def _apply(counts: dict[str, int], kind: str, data: dict[str, Any]) -> None:
    """What the dashboard does with an event to keep its counts."""
    if kind == "created":
        counts[data["State"]] += 1
    elif kind == "state":
        counts[data["PreviousState"]] -= 1
        counts[data["State"]] += 1
    elif kind == "removed":
        counts[data["State"]] -= 1


async def test_counts_kept_from_the_feed_match_a_new_snapshot(svc: TaskService, engines: FakeEngines) -> None:
    gate = asyncio.Event()
    engines.scripts["slow"] = Script(gate=gate)
    await svc.create(TaskSpec(code="1", name="before"))
    listener = await listen(svc)
    start = svc.overview()
    counts = cast(dict[str, int], dict(start["Counts"]))
    made = [await svc.create(TaskSpec(code="slow", auto_start=True)) for _ in range(3)]
    await svc.cancel(made[0]["Id"])
    gate.set()
    for m in made:
        await svc.wait(m["Id"], 5)
    await svc.remove(made[1]["Id"])
    await until(lambda: "removed" in listener.kinds())
    for seq, kind, data in listener.events:
        if seq > start["EventSeq"]:
            _apply(counts, kind, data)
    assert counts == svc.overview()["Counts"]
    await listener.stop()


async def test_the_subscription_starts_before_the_first_read(svc: TaskService) -> None:
    feed = svc.feed()  # the SSE route subscribes before it answers, so nothing falls between
    made = await svc.create(TaskSpec(code="1"))
    seq, kind, data = await anext(feed)
    assert (kind, data["Id"]) == ("created", made["Id"]) and seq == svc.overview()["EventSeq"]
    await feed.aclose()
    assert [e async for e in feed] == []
