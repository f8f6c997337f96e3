"""The task core's rules on fake engines and a fake clock: states, queue, cancel, timeouts, grace, events."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest

from krtasks.core.observers import Observers, TaskObserver
from krtasks.core.service import TaskService
from krtasks.core.states import TRANSITIONS, IllegalTransitionError, transition
from krtasks.engines.base import Outcome, StepReport
from krtasks.errors import CompileError, TaskConflictError, TaskNotFoundError, TaskValidationError
from krtasks.models import Language, Progress, TaskData, TaskErrorInfo, TaskSpec, TaskState
from unit.fakes import FakeClock, FakeEngines, Script, ServiceFactory, run, until

PS, CS, VB = Language.POWERSHELL, Language.CSHARP, Language.VBNET


def gated(engines: FakeEngines, name: str, **kw: Any) -> asyncio.Event:
    """Register a script that runs until the returned gate is set."""
    gate = asyncio.Event()
    engines.scripts[name] = Script(gate=gate, **kw)
    return gate


# ------------------------------------------------------------------------------------- state machine


def test_only_the_transition_table_moves_a_task(clock: FakeClock) -> None:
    data = TaskData(
        id="t",
        seq=1,
        name="t",
        description="",
        language=PS,
        code="",
        arguments={},
        timeout_seconds=None,
        parent_id="",
        extra_imports=[],
        extra_refs=[],
        created_at=clock.now(),
    )
    clock.advance(1)
    transition(data, TaskState.RUNNING, clock.now())
    started = data.started_at
    assert started == clock.now()
    clock.advance(1)
    transition(data, TaskState.STOPPING, clock.now())
    transition(data, TaskState.STOPPED, clock.now(), progress=Progress(100, "Cancelled"))
    assert data.started_at == started and data.completed_at == clock.now()  # each stamped once
    assert data.progress.status_message == "Cancelled"
    with pytest.raises(IllegalTransitionError):
        transition(data, TaskState.RUNNING, clock.now())
    assert all(not TRANSITIONS[s] for s in TaskState if s.finished)  # finished states are final
    assert TaskState.COMPLETED not in TRANSITIONS[TaskState.STOPPING]  # a stopped run never "completes"


async def test_lifecycle_and_record(svc: TaskService, clock: FakeClock) -> None:
    rec = await svc.create(TaskSpec(code="'hi'"))
    assert len(rec["Id"]) == 32 and rec["Name"] == f"Task {rec['Id']}"
    assert rec["State"] == rec["StateText"] == "NotStarted" and rec["CreatedAt"] == "2026-01-01T00:00:00.000000Z"
    assert (await svc.start(rec["Id"].upper()))["State"] in ("Running", "Completed")  # ids are case-insensitive
    with pytest.raises(TaskConflictError, match="only a NotStarted task can start"):
        await svc.start(rec["Id"])
    done = await svc.wait(rec["Id"], 5)
    assert done["State"] == "Completed" and done["Progress"]["PercentComplete"] == 100
    assert done["Progress"]["StatusMessage"] == "Completed" and done["Duration"] == "00:00:00.0000000"
    assert svc.result(rec["Id"])["Output"] == "'hi'"
    with pytest.raises(TaskConflictError, match="nothing to cancel"):
        await svc.cancel(rec["Id"])


async def test_unknown_ids_and_invalid_fields(svc: TaskService) -> None:
    with pytest.raises(TaskNotFoundError):
        svc.get("nope")
    for call in (svc.start("nope"), svc.cancel("nope"), svc.remove("nope"), svc.wait("nope", 1)):
        with pytest.raises(TaskNotFoundError):
            await call
    for spec, field in (
        (TaskSpec(code="1", id="a\nb"), "Id"),
        (TaskSpec(code="1", name=" "), "Name"),
        (TaskSpec(code="1", timeout_seconds=-1), "TimeoutSeconds"),
        (TaskSpec(code="1", arguments={"TaskId": 1}), "Arguments"),
        (TaskSpec(code="1", extra_refs=["x"]), "ExtraRefs"),
        (TaskSpec(code="1", parent_id="missing"), "ParentId"),
    ):
        with pytest.raises(TaskValidationError) as info:
            await svc.create(spec)
        assert info.value.field == field
    # Ids may hold spaces and URL characters; a blank id gets a new one; empty code is a valid task.
    for task_id in ("job/1", "my task", "a%b", "q?#\\"):
        assert (await svc.create(TaskSpec(code="", id=task_id)))["Id"] == task_id
    assert len((await svc.create(TaskSpec(code="1", id="  ")))["Id"]) == 32
    with pytest.raises(TaskConflictError, match="already exists"):
        await svc.create(TaskSpec(code="1", id="MY TASK"))


async def test_compile_error_registers_nothing(svc: TaskService, engines: FakeEngines) -> None:
    engines.scripts["broken"] = Script(
        compile_error=[{"Id": "CS0103", "Severity": "Error", "Message": "nope", "Line": 2, "Column": 5}]
    )
    with pytest.raises(CompileError, match="CS0103 at line 2"):
        await svc.create(TaskSpec(code="broken", language=CS, id="b"))
    assert not svc.exists("b")
    await svc.create(TaskSpec(code="ok", id="b"))  # the id was not taken


# ------------------------------------------------------------------------------------- queue and slots


async def test_fifo_queue_and_mixed_languages_share_the_slots(svc: TaskService, engines: FakeEngines) -> None:
    gates = [gated(engines, f"g{i}") for i in range(4)]
    ids = []
    for i, lang in enumerate((PS, CS, VB, PS)):
        ids.append((await svc.create(TaskSpec(code=f"g{i}", language=lang, auto_start=True)))["Id"])
    assert [svc.get(i)["State"] for i in ids] == ["Running", "Running", "Queued", "Queued"]
    assert svc.queue_length == 2 and svc.running_count == 2
    gates[1].set()  # the C# task ends: the first queued (VB) gets its slot, the last one waits
    await until(lambda: svc.get(ids[2])["State"] == "Running")
    assert svc.get(ids[3])["State"] == "Queued"
    gates[0].set()
    await until(lambda: svc.get(ids[3])["State"] == "Running")
    for gate in gates:
        gate.set()
    done = [await svc.wait(i, 5) for i in ids]
    assert [d["State"] for d in done] == ["Completed"] * 4
    assert svc.running_count == 0 and svc.queue_length == 0


async def test_launch_failure_fails_the_task_and_frees_its_slot(svc: TaskService, engines: FakeEngines) -> None:
    engines.scripts["no-runspace"] = Script(launch_error=RuntimeError("no runspace"))
    done = await run(svc, "no-runspace")
    assert done["State"] == "Failed" and done["Error"] is not None
    assert done["Error"]["Type"] == "RuntimeError" and "could not be started: no runspace" in done["Error"]["Message"]
    assert svc.running_count == 0


# ------------------------------------------------------------------------------------- cancel, timeout, grace


async def test_cancel_in_every_state(svc: TaskService, engines: FakeEngines) -> None:
    gate = gated(engines, "slow")
    engines.scripts["stubborn"] = Script(forever=True, ignore_stop=True)
    not_started = await svc.create(TaskSpec(code="slow"))
    running = await svc.create(TaskSpec(code="slow", auto_start=True))
    stubborn = await svc.create(TaskSpec(code="stubborn", auto_start=True))
    queued = await svc.create(TaskSpec(code="slow", auto_start=True))
    assert svc.get(queued["Id"])["State"] == "Queued"
    # NotStarted and Queued: Stopped at once, never started; the queued one leaves the queue.
    for rec in (not_started, queued):
        stopped = await svc.cancel(rec["Id"])
        assert stopped["State"] == "Stopped" and stopped["StartedAt"] is None
        assert stopped["Progress"]["StatusMessage"] == "Cancelled before start"
    assert svc.queue_length == 0
    # Running: Stopping, then Stopped once the code ends.
    assert (await svc.cancel(running["Id"]))["State"] in ("Stopping", "Stopped")
    done = await svc.wait(running["Id"], 5)
    assert done["State"] == "Stopped" and done["Error"] is None and done["Progress"]["StatusMessage"] == "Cancelled"
    # Stopping: a second cancel is accepted and changes nothing.
    await until(lambda: bool(engines.fakes[PS].executions) and len(engines.fakes[PS].executions) == 2)
    assert (await svc.cancel(stubborn["Id"]))["State"] == "Stopping"
    assert (await svc.cancel(stubborn["Id"]))["State"] == "Stopping"
    assert (await svc.wait(stubborn["Id"], 5))["State"] == "Stopped"
    # Finished: refused.
    with pytest.raises(TaskConflictError, match="already Stopped"):
        await svc.cancel(running["Id"])
    gate.set()
    assert engines.held == 0  # every task that can no longer run released its prepared code


async def test_timeout_fails_with_timeout_exception(svc: TaskService, engines: FakeEngines, clock: FakeClock) -> None:
    engines.scripts["forever"] = Script(forever=True)
    started = clock.monotonic()
    done = await run(svc, "forever", timeout_seconds=2.5)
    assert done["State"] == "Failed" and done["Error"] is not None
    assert done["Error"]["Type"] == "TimeoutException" and "2.5 seconds" in done["Error"]["Message"]
    assert done["Progress"]["StatusMessage"] == "Timed out"
    assert 2.5 <= clock.monotonic() - started < 3.5  # one step past the deadline at most


async def test_default_timeout_applies_to_tasks_without_their_own(
    make_service: ServiceFactory, engines: FakeEngines
) -> None:
    engines.scripts["forever"] = Script(forever=True)
    async with make_service(default_timeout_seconds=1) as service:
        assert (await run(service, "forever"))["Error"]["Type"] == "TimeoutException"  # type: ignore[index]
        own = await service.create(TaskSpec(code="quick", timeout_seconds=30))
        assert own["TimeoutSeconds"] == 30


async def test_code_that_ignores_a_stop_is_abandoned_after_the_grace_period(
    svc: TaskService, engines: FakeEngines, clock: FakeClock
) -> None:
    engines.scripts["stubborn"] = Script(forever=True, ignore_stop=True)
    rec = await svc.create(TaskSpec(code="stubborn", auto_start=True))
    await until(lambda: bool(engines.fakes[PS].executions))
    asked = clock.monotonic()
    assert (await svc.cancel(rec["Id"]))["State"] == "Stopping"
    done = await svc.wait(rec["Id"], 5)
    assert done["State"] == "Stopped" and "abandoned after 1 s" in done["Progress"]["StatusMessage"]
    assert 1.0 <= clock.monotonic() - asked < 1.5  # the service's 1 s grace, in fake time
    assert svc.abandoned == 1 and engines.fakes[PS].executions[-1].abandoned
    notes = [r["Message"] for r in svc.streams(rec["Id"])["Records"]]
    assert notes == [
        "The task did not stop within the 1 s grace period; its work was abandoned and may still be "
        "running in the daemon."
    ]
    assert "krtasks_abandoned_total 1.0" in metrics_text(svc)
    # A timeout whose stop is ignored ends Failed with the TimeoutException, and is abandoned too.
    done = await run(svc, "stubborn", timeout_seconds=1)
    assert done["State"] == "Failed" and done["Error"]["Type"] == "TimeoutException"  # type: ignore[index]
    assert svc.abandoned == 2 and svc.running_count == 0


def metrics_text(service: TaskService) -> str:
    from prometheus_client import generate_latest

    return generate_latest(service.metrics.registry).decode()


# ------------------------------------------------------------------------------------- outcomes


async def test_outcomes_decide_the_final_state(svc: TaskService, engines: FakeEngines) -> None:
    engines.scripts["throws"] = Script(outcome=Outcome(output=[1], error=TaskErrorInfo("X", "boom", line=3)))
    engines.scripts["prompts"] = Script(outcome=Outcome(prompt="Read-Host needs a host"))
    engines.scripts["notes"] = Script(
        outcome=Outcome(output="ok", notes=["kept 5"], records=[("Error", "late", "2026-01-01T00:00:00.000000Z")])
    )
    failed = await run(svc, "throws")
    assert failed["State"] == "Failed" and failed["Error"] == {
        "Type": "X",
        "Message": "boom",
        "Category": None,
        "StackTrace": None,
        "Line": 3,
        "Column": None,
    }
    assert svc.result(failed["Id"])["Output"] == [1]  # partial output is kept
    prompted = await run(svc, "prompts")
    assert prompted["Error"]["Type"].endswith("HostException")  # type: ignore[index]
    assert "Read-Host needs a host" in prompted["Error"]["Message"]  # type: ignore[index]
    noted = await run(svc, "notes")
    assert [(r["Stream"], r["Message"]) for r in svc.streams(noted["Id"])["Records"]] == [
        ("Error", "late"),
        ("Warning", "kept 5"),
    ]


async def test_steps_bring_progress_and_numbered_records(svc: TaskService, engines: FakeEngines) -> None:
    engines.scripts["talks"] = Script(
        steps=[
            StepReport(False, [("Warning", f"w{i}", "t") for i in range(3)], Progress(10, "Running")),
            StepReport(False, [], Progress(50, "half", "Copying")),
            StepReport(False, [("Information", "i", "t")], None),
        ]
    )
    done = await run(svc, "talks")
    page = svc.streams(done["Id"])
    assert [(r["Index"], r["Message"]) for r in page["Records"]] == [(0, "w0"), (1, "w1"), (2, "w2"), (3, "i")]
    assert page["Next"] == 4 and svc.streams(done["Id"], since=3)["Records"][0]["Message"] == "i"
    assert done["Progress"] == {
        "PercentComplete": 100,
        "StatusMessage": "Completed",
        "Activity": "Copying",
        "CurrentOperation": None,
        "SecondsRemaining": None,
    }
    with pytest.raises(TaskValidationError):
        svc.streams(done["Id"], since=-1)


async def test_events_in_order(svc: TaskService, engines: FakeEngines) -> None:
    engines.scripts["talks"] = Script(
        steps=[
            StepReport(False, [], Progress(0, "Running")),
            StepReport(False, [("Warning", "step 1", "t")], Progress(30, "Running")),
            StepReport(False, [], Progress(30, "Running")),  # unchanged: no event
            StepReport(False, [("Warning", "step 2", "t")], Progress(60, "Running")),
        ]
    )
    rec = await svc.create(TaskSpec(code="talks"))
    seen: list[tuple[str, Any]] = []

    async def listen() -> None:
        async for event in svc.events(rec["Id"]):
            seen.append(event)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0)
    await svc.start(rec["Id"])
    await asyncio.wait_for(listener, 5)
    kinds = [k for k, _ in seen]
    # A step's records come before its progress; the final progress just before the final state.
    assert kinds == ["state", "state", "progress", "stream", "progress", "stream", "progress", "progress", "state"]
    assert [d["State"] for k, d in seen if k == "state"] == ["NotStarted", "Running", "Completed"]
    progress = [d["Progress"] for k, d in seen if k == "progress"]
    assert all(a != b for a, b in itertools.pairwise(progress))
    assert [p["PercentComplete"] for p in progress] == [0, 30, 60, 100]
    # A finished task's stream is just its final state.
    assert [k async for k, _ in svc.events(rec["Id"])] == ["state"]


async def test_shutdown_ends_waits_and_event_streams(make_service: ServiceFactory, engines: FakeEngines) -> None:
    engines.scripts["stubborn"] = Script(forever=True, ignore_stop=True)
    async with make_service(stop_grace_seconds=0.5) as service:
        rec = await service.create(TaskSpec(code="stubborn", auto_start=True))
        waiter = asyncio.create_task(service.wait(rec["Id"]))
        stream = service.events(rec["Id"])
        assert (await anext(stream))[0] == "state"
        await service.shutdown(0.5)
        assert (await asyncio.wait_for(waiter, 5))["State"] == "Stopped"  # abandoned within the grace
        assert [e async for e in stream][-1][1]["State"] == "Stopped"


# ------------------------------------------------------------------------------------- parents, removal


async def test_parents_children_and_removal(svc: TaskService, engines: FakeEngines) -> None:
    gate = gated(engines, "slow")
    parent = await run(svc, "p")
    child = await svc.create(TaskSpec(code="slow", parent_id=parent["Id"].upper(), auto_start=True))
    grandchild = await svc.create(TaskSpec(code="g", parent_id=child["Id"]))
    assert svc.get(parent["Id"])["ChildrenId"] == [child["Id"]]
    assert [r["Id"] for r in svc.list(parent_id=child["Id"])] == [grandchild["Id"]]
    with pytest.raises(TaskConflictError, match="still running"):
        await svc.remove(parent["Id"])
    removed = await svc.remove(child["Id"], force=True)  # cancels the child, then removes it with its own
    assert removed == [child["Id"], grandchild["Id"]]
    assert svc.get(parent["Id"])["ChildrenId"] == [] and not svc.exists(grandchild["Id"])
    assert await svc.remove(parent["Id"]) == [parent["Id"]]
    gate.set()
    assert engines.held == 0


async def test_list_filters_newest_first(svc: TaskService) -> None:
    made = [await svc.create(TaskSpec(code="1", name=f"lst-{i}")) for i in range(3)]
    cs = await svc.create(TaskSpec(code="1", language=CS, name="lst-cs"))
    assert [r["Id"] for r in svc.list(name="LST-*")] == [cs["Id"], *(m["Id"] for m in reversed(made))]
    assert [r["Id"] for r in svc.list(name="lst-?", language="ps", state="notstarted")] == [
        m["Id"] for m in reversed(made)
    ]
    for bad in ({"state": "Sleeping"}, {"language": "cobol"}):
        with pytest.raises(TaskValidationError):
            svc.list(**bad)


# ------------------------------------------------------------------------------------- observers


async def test_a_failing_observer_is_logged_and_the_others_run(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    class Broken(TaskObserver):
        name = "broken"

        def removed(self, tasks: Any) -> None:
            raise RuntimeError("observer bug")

    class Counting(TaskObserver):
        name = "counting"

        def removed(self, tasks: Any) -> None:
            calls.append("removed")

    with caplog.at_level(logging.ERROR, "krtasks.core"):
        Observers([Broken(), Counting()]).removed([])
    assert calls == ["removed"]
    assert "observer broken failed on removed" in caplog.text
