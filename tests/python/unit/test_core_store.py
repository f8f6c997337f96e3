"""The core with a store: write-through, restore, retention and store failures (real SQLite, fake engines)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from krtasks.engines.base import StepReport
from krtasks.models import Language, Progress, TaskData, TaskSpec, TaskState
from krtasks.store import SqliteTaskStore, StoredRecord, open_store
from unit.fakes import FakeClock, FakeEngines, Script, ServiceFactory, run, until


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    s = open_store(tmp_path)
    yield s
    await s.close()


async def states_in(store: SqliteTaskStore) -> dict[str, TaskState]:
    return {t.data.id: t.data.state for t in await store.load()}


async def test_every_change_is_durable_before_the_answer(
    make_service: ServiceFactory, store: SqliteTaskStore, engines: FakeEngines
) -> None:
    gate = asyncio.Event()
    engines.scripts["slow"] = Script(gate=gate)
    async with make_service(store=store) as svc:
        await svc.create(TaskSpec(code="slow", id="a"))
        assert await states_in(store) == {"a": TaskState.NOT_STARTED}
        await svc.rename("a", name="renamed")
        assert (await store.load())[0].data.name == "renamed"
        await svc.start("a")
        assert await states_in(store) == {"a": TaskState.RUNNING}
        await svc.cancel("a")
        assert (await states_in(store))["a"] in (TaskState.STOPPING, TaskState.STOPPED)
        done = await svc.wait("a", 5)
        assert done["State"] == "Stopped" and await states_in(store) == {"a": TaskState.STOPPED}
        await svc.remove("a")
        assert await store.load() == []


class CountingStore(SqliteTaskStore):
    """A real store that records each write: ``("put", [(id, state)...], records)`` or ``("records", n)``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[tuple[Any, ...]] = []

    def put(self, tasks: Sequence[TaskData], records: Sequence[StoredRecord] = ()) -> Awaitable[None]:
        self.writes.append(("put", [(t.id, t.state) for t in tasks], len(records)))
        return super().put(tasks, records)

    def add_records(self, records: Sequence[StoredRecord]) -> Awaitable[None]:
        self.writes.append(("records", len(records)))
        return super().add_records(records)


async def test_one_commit_for_create_and_start_and_one_for_the_end(
    make_service: ServiceFactory, tmp_path: Path, engines: FakeEngines
) -> None:
    gate = asyncio.Event()
    engines.scripts["talks"] = Script(steps=[StepReport(False, [("Warning", "w", "t")])], gate=gate)
    counting = CountingStore(tmp_path / "tasks.db")
    try:
        async with make_service(store=counting) as svc:
            await svc.create(TaskSpec(code="talks", id="t", auto_start=True))
            # created and started in one request: one write, holding the Running row
            assert counting.writes == [("put", [("t", TaskState.RUNNING)], 0)]
            await until(lambda: svc.streams("t")["Records"] != [])
            gate.set()
            assert (await svc.wait("t", 10))["State"] == "Completed"
            # the final row and the buffered record in one write, not a record batch and then a row
            assert counting.writes[1:] == [("put", [("t", TaskState.COMPLETED)], 1)]
        assert [t.data.state for t in await counting.load()] == [TaskState.COMPLETED]
    finally:
        await counting.close()


async def test_restore_fails_what_was_cut_off_and_what_no_longer_compiles(
    make_service: ServiceFactory, store: SqliteTaskStore, engines: FakeEngines, clock: FakeClock
) -> None:
    def task(task_id: str, seq: int, state: TaskState, code: str = "ok", **kw: Any) -> TaskData:
        return TaskData(
            id=task_id,
            seq=seq,
            name=task_id,
            description="",
            language=Language.CSHARP,
            code=code,
            arguments={"n": 1},
            timeout_seconds=None,
            parent_id="",
            extra_imports=[],
            extra_refs=[],
            created_at=clock.now(),
            state=state,
            **kw,
        )

    started: dict[str, Any] = {"started_at": clock.now()}
    await store.put(
        [
            task(
                "done",
                1,
                TaskState.COMPLETED,
                completed_at=clock.now(),
                output=7,
                progress=Progress(100, "Completed"),
                **started,
            ),
            task("waiting", 2, TaskState.NOT_STARTED),
            task("broken", 3, TaskState.NOT_STARTED, code="no longer compiles"),
            task("queued", 4, TaskState.QUEUED),
            task("running", 5, TaskState.RUNNING, **started),
            task("stopping", 6, TaskState.STOPPING, **started),
        ]
    )
    await store.add_records([("done", 0, "Warning", "kept", "t")])
    engines.scripts["no longer compiles"] = Script(
        compile_error=[{"Id": "CS0103", "Severity": "Error", "Message": "gone", "Line": 4, "Column": 2}]
    )
    clock.advance(60)
    async with make_service(store=store) as svc:
        assert svc.result("done")["Output"] == 7 and svc.streams("done")["Records"][0]["Message"] == "kept"
        assert svc.get("waiting")["State"] == "NotStarted"
        broken = svc.get("broken")
        assert broken["State"] == "Failed" and broken["Error"] is not None
        error = broken["Error"]
        assert error["Type"] == "CompileError" and (error["Line"], error["Column"]) == (4, 2)
        assert "CS0103 at line 4, column 2: gone" in error["Message"]
        for task_id in ("queued", "running", "stopping"):
            rec = svc.get(task_id)
            assert rec["State"] == "Failed" and rec["Error"] is not None and rec["Error"]["Type"] == "Interrupted"
            assert rec["Progress"]["StatusMessage"] == "Interrupted"
            assert rec["CompletedAt"] == "2026-01-01T00:01:00.000000Z"
        # The restored tasks are durable as such, and the waiting one still runs.
        assert (await states_in(store))["running"] == TaskState.FAILED
        assert (await svc.wait((await svc.start("waiting"))["Id"], 5))["State"] == "Completed"
        # Waiters on restored finished tasks return at once.
        assert (await asyncio.wait_for(svc.wait("done"), 1))["State"] == "Completed"


async def test_retention_takes_whole_finished_subtrees(
    make_service: ServiceFactory, store: SqliteTaskStore, engines: FakeEngines, clock: FakeClock
) -> None:
    gate = asyncio.Event()
    engines.scripts["slow"] = Script(gate=gate)
    async with make_service(store=store, retention_seconds=3600, max_finished=0) as svc:
        parent = await run(svc, "p", id="parent")
        await run(svc, "c", id="child", parent_id="parent")
        await svc.create(TaskSpec(code="slow", id="young-child", parent_id="parent", auto_start=True))
        await run(svc, "solo", id="solo")
        clock.advance(3600)
        # solo, and the finished child on its own; the parent stays while a child of its runs.
        assert await svc.sweep() == 2
        assert sorted(t["Id"] for t in svc.list()) == ["parent", "young-child"]
        gate.set()
        await svc.wait("young-child", 5)
        assert await svc.sweep() == 0  # the young child just finished
        clock.advance(3600)
        assert await svc.sweep() == 1 and svc.list() == [] and await store.load() == []
        assert parent["State"] == "Completed"


async def test_retention_by_count_keeps_the_newest(make_service: ServiceFactory, clock: FakeClock) -> None:
    async with make_service(retention_seconds=0, max_finished=2) as svc:
        for i in range(4):
            await run(svc, f"{i}", id=f"t{i}")
            clock.advance(1)
        await svc.create(TaskSpec(code="x", id="idle"))
        assert await svc.sweep() == 2
        assert sorted(t["Id"] for t in svc.list()) == ["idle", "t2", "t3"]


class FailingStore(SqliteTaskStore):
    """A real store whose writes fail while ``failing`` is set."""

    failing = False

    def put(self, tasks: Sequence[TaskData], records: Sequence[StoredRecord] = ()) -> Awaitable[None]:
        return self._fail() if self.failing else super().put(tasks, records)

    def add_records(self, records: Sequence[StoredRecord]) -> Awaitable[None]:
        return self._fail() if self.failing else super().add_records(records)

    async def _fail(self) -> None:
        raise OSError("disk full")


async def test_store_write_failures_reach_the_caller_and_spare_the_task(
    make_service: ServiceFactory, tmp_path: Path, engines: FakeEngines, caplog: pytest.LogCaptureFixture
) -> None:
    failing = FailingStore(tmp_path / "tasks.db")
    engines.scripts["talks"] = Script(steps=[StepReport(False, [("Warning", "w", "t")])])
    try:
        async with make_service(store=failing) as svc:
            failing.failing = True
            with caplog.at_level(logging.ERROR, "krtasks.core"), pytest.raises(OSError, match="disk full"):
                await svc.create(TaskSpec(code="talks", id="t", auto_start=True))
            assert "writing to the task store failed: disk full" in caplog.text
            # The task itself runs on (it is in memory); a later write that works makes it durable.
            await until(lambda: svc.get("t")["State"] == "Completed")
            failing.failing = False
            await svc.rename("t", name="saved now")
            assert (await failing.load())[0].data.name == "saved now"
    finally:
        await failing.close()


async def test_a_restored_task_keeps_its_timestamps(
    make_service: ServiceFactory, store: SqliteTaskStore, clock: FakeClock
) -> None:
    async with make_service(store=store) as svc:
        done = await run(svc, "x", id="x")
    clock.advance(timedelta(days=1).total_seconds())
    async with make_service(store=store, retention_seconds=0) as svc:
        assert svc.get("x") == done
