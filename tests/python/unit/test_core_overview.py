"""The overview snapshot: counts, run history per minute and over 24 h, slots, workers, store, definition."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from krtasks import __version__
from krtasks.engines.base import Outcome
from krtasks.models import Language, TaskErrorInfo, TaskSpec, TaskState
from krtasks.store import open_store
from unit.fakes import T0, FakeClock, FakeEngines, Script, ServiceFactory, run, task_data


class FakePool:
    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = dict(counts)

    def counts(self) -> Mapping[str, int]:
        return self._counts


async def test_counts_slots_running_and_settings(make_service: ServiceFactory, engines: FakeEngines) -> None:
    gate = asyncio.Event()
    engines.scripts["slow"] = Script(gate=gate)
    async with make_service(max_runspaces=2, retention_seconds=3600, max_finished=50) as svc:
        running = [await svc.create(TaskSpec(code="slow", auto_start=True)) for _ in range(3)]
        await svc.create(TaskSpec(code="1"))
        snap = svc.overview()
        assert snap["Counts"] == {
            "NotStarted": 1,
            "Queued": 1,
            "Running": 2,
            "Stopping": 0,
            "Completed": 0,
            "Failed": 0,
            "Stopped": 0,
        }
        assert (snap["Total"], snap["QueueLength"], snap["SlotsInUse"], snap["MaxRunspaces"]) == (4, 1, 2, 2)
        assert [r["Id"] for r in snap["Running"]] == [running[1]["Id"], running[0]["Id"]]  # newest first
        assert (snap["RetentionSeconds"], snap["MaxFinished"], snap["Isolation"]) == (3600, 50, "process")
        assert snap["Version"] == __version__ and snap["StoreBytes"] is None
        assert snap["Workers"] is None  # the fake engines have no worker processes
        gate.set()


async def test_history_per_minute_and_failed_in_24h(
    make_service: ServiceFactory, engines: FakeEngines, clock: FakeClock
) -> None:
    engines.scripts["fails"] = Script(outcome=Outcome(error=TaskErrorInfo("X", "boom")))
    async with make_service() as svc:
        assert svc.overview()["UptimeSeconds"] == 0 and svc.overview()["StartedAt"] == "2026-01-01T00:00:00.000000Z"
        await run(svc, "1")
        await run(svc, "fails")
        clock.advance(120)
        done = await run(svc, "1")
        await run(svc, "1")
        cancelled = await svc.create(TaskSpec(code="1"))
        await svc.cancel(cancelled["Id"])  # Stopped: not counted
        snap = svc.overview()
        minutes = snap["Throughput"]
        assert len(minutes) == 60 and minutes[-1]["Minute"] == "2026-01-01T00:02:00.000000Z"
        assert [(m["Completed"], m["Failed"]) for m in minutes[-3:]] == [(1, 1), (0, 0), (2, 0)]
        assert snap["FailedLast24h"] == 1 and snap["UptimeSeconds"] == 120
        await svc.remove(done["Id"])  # the past does not change when a task goes
        assert svc.overview()["Throughput"][-1]["Completed"] == 2
        clock.advance(3600)
        snap = svc.overview()
        assert sum(m["Completed"] + m["Failed"] for m in snap["Throughput"]) == 0 and snap["FailedLast24h"] == 1
        clock.advance(23 * 3600)
        assert svc.overview()["FailedLast24h"] == 0


async def test_history_is_seeded_from_the_store(make_service: ServiceFactory, clock: FakeClock, tmp_path: Path) -> None:
    store = open_store(tmp_path)
    failed_at = T0 - timedelta(hours=2)
    await store.put(
        [
            task_data(
                f"old{i}",
                i + 1,
                name="old",
                created_at=failed_at,
                state=TaskState.FAILED,
                started_at=failed_at,
                completed_at=failed_at,
                error=TaskErrorInfo("X", "boom"),
            )
            for i in range(3)
        ]
    )
    try:
        async with make_service(store=store) as svc:
            snap = svc.overview()
            assert snap["FailedLast24h"] == 3 and snap["Counts"]["Failed"] == 3
            assert snap["StoreBytes"] is not None and snap["StoreBytes"] > 0
    finally:
        await store.close()


async def test_workers_come_from_the_engines_pools_each_counted_once(
    make_service: ServiceFactory, engines: FakeEngines
) -> None:
    shared = FakePool({"idle": 2, "busy": 1, "starting": 0})
    other = FakePool({"idle": 1, "busy": 0, "starting": 1})
    engines.fakes[Language.POWERSHELL].worker_pool = lambda: shared  # type: ignore[attr-defined]
    engines.fakes[Language.CSHARP].worker_pool = lambda: shared  # type: ignore[attr-defined]
    engines.fakes[Language.VBNET].worker_pool = lambda: other  # type: ignore[attr-defined]
    async with make_service() as svc:
        assert svc.overview()["Workers"] == {"Idle": 3, "Busy": 1, "Starting": 1}


async def test_definition(make_service: ServiceFactory) -> None:
    async with make_service() as svc:
        parent = await svc.create(TaskSpec(code="1"))
        rec = await svc.create(
            TaskSpec(
                code="return x;",
                language=Language.CSHARP,
                name="n",
                description="d",
                arguments={"x": [1, {"y": "z"}]},
                timeout_seconds=5,
                parent_id=parent["Id"],
                extra_imports=["System.Text"],
                extra_refs=["System.Xml"],
                max_memory_mb=300,
                environment={"A": "1"},
            )
        )
        assert svc.definition(rec["Id"].upper()) == {
            "Id": rec["Id"],
            "Name": "n",
            "Description": "d",
            "Language": "CSharp",
            "Code": "return x;",
            "Arguments": {"x": [1, {"y": "z"}]},
            "TimeoutSeconds": 5,
            "ParentId": parent["Id"],
            "ExtraImports": ["System.Text"],
            "ExtraRefs": ["System.Xml"],
            "MaxMemoryMB": 300,
            "WorkingDirectory": None,
            "Environment": {"A": "1"},
            "Isolation": "process",
        }
