"""The task service against the real PowerShell and Roslyn engines (issue 3)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest

from engine_views import compile_cache
from krtasks.core.service import TaskService
from krtasks.engines.process.engine import ProcessEngine
from krtasks.errors import CompileError, TaskConflictError, TaskNotFoundError, TaskValidationError
from krtasks.models import Isolation, Language, ServiceConfig, TaskErrorJson, TaskRecordJson, TaskSpec
from krtasks.runtime import RuntimeInfo

PS, CS, VB = Language.POWERSHELL, Language.CSHARP, Language.VBNET


@pytest.fixture(scope="module", params=["process", "thread"])
def isolation(request: pytest.FixtureRequest, runtime: RuntimeInfo) -> Isolation:
    """Every test of the engine suite runs in both isolation modes (worker processes, daemon threads)."""
    mode: Isolation = request.param
    return mode


@pytest.fixture(scope="module")
async def svc(isolation: Isolation) -> AsyncIterator[TaskService]:
    service = TaskService(ServiceConfig(max_runspaces=4, stop_grace_seconds=1.0, isolation=isolation))
    await service.open()
    yield service
    await service.close(grace_seconds=2)


@contextlib.asynccontextmanager
async def own_service(isolation: Isolation, **config: Any) -> AsyncIterator[TaskService]:
    """A service with settings of its own (for rules the shared one cannot show), closed afterwards."""
    service = TaskService(ServiceConfig(isolation=isolation, min_workers=1, **config))
    await service.open()
    try:
        yield service
    finally:
        await service.close()


async def run(svc: TaskService, code: str, language: Language = PS, timeout: float = 60, **kw: Any) -> TaskRecordJson:
    """Create with AutoStart, wait for the end, return the record."""
    rec = await svc.create(TaskSpec(code=code, language=language, auto_start=True, **kw))
    done = await svc.wait(rec["Id"], timeout)
    assert done["State"] in ("Completed", "Failed", "Stopped"), done
    return done


def error_of(record: TaskRecordJson) -> TaskErrorJson:
    """The record's Error, which must be there."""
    error = record["Error"]
    assert error is not None, record
    return error


def compilations(service: TaskService) -> float:
    """C# compilations so far (the metric, the same in both modes)."""
    value = service.metrics.registry.get_sample_value("krtasks_compilations_total", {"language": "CSharp"})
    return value or 0.0


def stopped_after_grace(service: TaskService, record: TaskRecordJson) -> bool:
    """The task ended Stopped after the grace period: its code killed (process isolation) or abandoned (thread
    isolation, which says it may still be running)."""
    status = record["Progress"]["StatusMessage"]
    notes = [r["Message"] for r in service.streams(record["Id"])["Records"]]
    if service.config.isolation == "process":
        return "stopped by force" in status and any("worker process was killed" in n for n in notes)
    return "abandoned" in status and any("may still be running" in n for n in notes)


async def wait_for(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- states and record


async def test_record_fields_and_lifecycle(svc: TaskService) -> None:
    rec = await svc.create(TaskSpec(code="'hi'"))
    assert len(rec["Id"]) == 32 and rec["Id"] == rec["Id"].lower()
    assert rec["Name"] == f"Task {rec['Id']}"
    assert rec["State"] == rec["StateText"] == "NotStarted"
    assert rec["Progress"]["PercentComplete"] == 0 and rec["Progress"]["StatusMessage"] == "Not started"
    assert rec["ParentId"] == "" and rec["ChildrenId"] == [] and rec["Error"] is None
    assert rec["StartedAt"] is None and rec["Duration"] is None and rec["CreatedAt"].endswith("Z")
    assert await svc.start(rec["Id"].upper())  # ids match case-insensitively
    with pytest.raises(TaskConflictError, match="only a NotStarted task can start"):
        await svc.start(rec["Id"])  # a second start is refused
    done = await svc.wait(rec["Id"], 30)
    assert done["State"] == "Completed"
    assert done["Progress"] == {**done["Progress"], "PercentComplete": 100, "StatusMessage": "Completed"}
    started, completed, duration = done["StartedAt"], done["CompletedAt"], done["Duration"]
    assert started is not None and completed is not None and duration is not None
    assert started <= completed and duration.startswith("00:00:")
    assert svc.result(rec["Id"]) == {
        "Id": rec["Id"],
        "CreatedAt": rec["CreatedAt"],
        "State": "Completed",
        "Output": ["hi"],
        "Error": None,
    }
    with pytest.raises(TaskConflictError, match="nothing to cancel"):
        await svc.cancel(rec["Id"])  # finished → refused


async def test_unknown_id(svc: TaskService) -> None:
    with pytest.raises(TaskNotFoundError, match="nope"):
        svc.get("nope")
    for call in (svc.start("nope"), svc.cancel("nope"), svc.remove("nope"), svc.wait("nope", 1)):
        with pytest.raises(TaskNotFoundError):
            await call


async def test_caller_id_is_unique_case_insensitively(svc: TaskService) -> None:
    await svc.create(TaskSpec(code="1", id="My-Task"))
    with pytest.raises(TaskConflictError, match="already exists"):
        await svc.create(TaskSpec(code="1", id="my-task"))
    assert svc.get("MY-TASK")["Id"] == "My-Task"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (TaskSpec(code=None), "Code"),  # type: ignore[arg-type]
        (TaskSpec(code="1", id="a\tb"), "Id"),
        (TaskSpec(code="1", id="x" * 129), "Id"),
        (TaskSpec(code="1", name="  "), "Name"),
        (TaskSpec(code="1", timeout_seconds=0), "TimeoutSeconds"),
        (TaskSpec(code="1", arguments={"1x": 1}), "Arguments"),
        (TaskSpec(code="1", arguments={"TaskProgress": 1}), "Arguments"),
        (TaskSpec(code="1", parent_id="missing"), "ParentId"),
    ],
)
async def test_invalid_fields_are_named(svc: TaskService, spec: TaskSpec, field: str) -> None:
    with pytest.raises(TaskValidationError) as info:
        await svc.create(spec)
    assert info.value.field == field


async def test_rename(svc: TaskService) -> None:
    rec = await svc.create(TaskSpec(code="1", name="first"))
    assert (await svc.rename(rec["Id"], name="second"))["Name"] == "second"
    assert (await svc.rename(rec["Id"], description="about"))["Description"] == "about"
    with pytest.raises(TaskValidationError):
        await svc.rename(rec["Id"], name=" ")
    with pytest.raises(TaskValidationError):
        await svc.rename(rec["Id"])


async def test_list_filters_newest_first(svc: TaskService) -> None:
    a = await svc.create(TaskSpec(code="1", name="filter-alpha"))
    b = await svc.create(TaskSpec(code="2", language=CS, name="filter-beta"))
    names = [r["Name"] for r in svc.list(name="filter-*")]
    assert names == ["filter-beta", "filter-alpha"]
    assert [r["Id"] for r in svc.list(name="FILTER-?ETA", language="csharp")] == [b["Id"]]
    assert a["Id"] in [r["Id"] for r in svc.list(state="notstarted")]
    with pytest.raises(TaskValidationError):
        svc.list(state="Sleeping")


# ---------------------------------------------------------------- PowerShell


async def test_no_leak_between_powershell_tasks(svc: TaskService) -> None:
    await run(svc, "$global:leak = 1; function Get-Leak { 1 }; Set-Alias gleak Get-Leak; Set-Location /tmp; 'set'")
    done = await run(
        svc,
        "[bool]$global:leak; [bool](Get-Command Get-Leak -ErrorAction Ignore); "
        "[bool](Get-Alias gleak -ErrorAction Ignore); (Get-Location).Path -eq '/tmp'",
    )
    assert svc.result(done["Id"])["Output"] == [False, False, False, False]


async def test_arguments_become_variables_and_bind_param(svc: TaskService) -> None:
    done = await run(
        svc,
        'param([int]$Count, [string]$Label) "$Label=$($Count * 2)"; $extra.GetType().Name',
        arguments={"Count": 21, "Label": "x", "extra": [1, 2]},
    )
    assert svc.result(done["Id"])["Output"] == ["x=42", "Object[]"]
    done = await run(svc, "$sec + 1; $TaskId", arguments={"sec": 2})
    assert svc.result(done["Id"])["Output"] == [3, done["Id"]]


async def test_status_message_says_running_once_started(svc: TaskService) -> None:
    rec = await svc.create(TaskSpec(code="Start-Sleep 5", auto_start=True))
    await wait_for(lambda: svc.get(rec["Id"])["Progress"]["StatusMessage"] == "Running")
    await svc.cancel(rec["Id"])
    await svc.wait(rec["Id"], 10)


async def test_task_progress_object(svc: TaskService) -> None:
    rec = await svc.create(
        TaskSpec(
            code="$TaskProgress.PercentComplete = 150; $TaskProgress.StatusMessage = 'half';"
            "$TaskProgress.StatusMessage = ' '; Start-Sleep 5",
            auto_start=True,
        )
    )
    await wait_for(lambda: svc.get(rec["Id"])["Progress"]["StatusMessage"] == "half")
    assert svc.get(rec["Id"])["Progress"]["PercentComplete"] == 100  # clamped
    await svc.cancel(rec["Id"])
    done = await svc.wait(rec["Id"], 10)
    assert done["State"] == "Stopped" and done["Progress"]["StatusMessage"] == "Cancelled"


async def test_write_progress_updates_progress(svc: TaskService) -> None:
    rec = await svc.create(
        TaskSpec(
            code="Write-Progress -Activity 'Copying' -Status 'file 3 of 8' -PercentComplete 37 "
            "-CurrentOperation 'a.txt' -SecondsRemaining 12; Start-Sleep 10",
            auto_start=True,
        )
    )
    await wait_for(lambda: svc.get(rec["Id"])["Progress"]["Activity"] == "Copying")
    assert svc.get(rec["Id"])["Progress"] == {
        "PercentComplete": 37,
        "StatusMessage": "file 3 of 8",
        "Activity": "Copying",
        "CurrentOperation": "a.txt",
        "SecondsRemaining": 12,
    }
    await svc.cancel(rec["Id"])


async def test_each_stream_is_captured_in_order(svc: TaskService) -> None:
    done = await run(
        svc,
        """
        Write-Error 'e1'
        Write-Warning 'w1'
        Write-Verbose 'v1' -Verbose
        $DebugPreference = 'Continue'; Write-Debug 'd1'
        Write-Information 'i1'
        Write-Host 'h1'
        'out'
    """,
    )
    assert done["State"] == "Completed"  # a non-terminating error does not fail the task
    records = svc.streams(done["Id"])["Records"]
    assert [(r["Stream"], r["Message"]) for r in records] == [
        ("Error", "e1"),
        ("Warning", "w1"),
        ("Verbose", "v1"),
        ("Debug", "d1"),
        ("Information", "i1"),
        ("Information", "h1"),
    ]
    assert [r["Index"] for r in records] == list(range(6))
    assert svc.streams(done["Id"], since=4) == {
        "Id": done["Id"],
        "CreatedAt": done["CreatedAt"],
        "Records": records[4:],
        "Next": 6,
    }
    assert svc.result(done["Id"])["Output"] == ["out"]


async def test_stream_limit_drops_and_says_so(isolation: Isolation) -> None:
    async with own_service(isolation, max_runspaces=1, stream_limit=5) as service:
        done = await run(service, "1..12 | ForEach-Object { Write-Warning \"w$_\" }; 'ok'")
        records = service.streams(done["Id"])["Records"]
        assert [r["Message"] for r in records[:5]] == [f"w{i}" for i in range(1, 6)]
        assert records[5]["Message"] == "7 Warning records were dropped (limit 5 per stream)."
        assert service.result(done["Id"])["Output"] == ["ok"]


async def test_script_that_throws_fails_with_error(svc: TaskService) -> None:
    done = await run(svc, "'before'\n\nthrow 'it broke'")
    assert done["State"] == "Failed"
    err = error_of(done)
    assert err["Message"] == "it broke" and err["Line"] == 3 and err["Type"].endswith("RuntimeException")
    assert err["StackTrace"] is not None and "line 3" in err["StackTrace"]
    assert done["Progress"]["StatusMessage"] == "Failed"
    assert svc.result(done["Id"])["Output"] == ["before"]  # partial output is kept


async def test_terminating_cmdlet_error(svc: TaskService) -> None:
    done = await run(svc, "Get-Item /definitely/not/here -ErrorAction Stop")
    assert done["State"] == "Failed"
    assert error_of(done)["Category"] == "ObjectNotFound"
    assert "ItemNotFoundException" in error_of(done)["Type"]


@pytest.mark.parametrize(
    "code",
    [
        "$name = Read-Host 'Your name'; \"hello $name\"",
        "Get-Credential",
        "param([Parameter(Mandatory)][string]$Needed) $Needed",
        "$host.UI.PromptForChoice('t', 'm', [System.Management.Automation.Host.ChoiceDescription[]]@('&Yes'), 0)",
        "Remove-Item -Path $env:HOME -Recurse -Confirm",
    ],
)
async def test_prompting_task_fails_fast(svc: TaskService, code: str) -> None:
    started = time.monotonic()
    done = await run(svc, code, timeout=20)
    assert done["State"] == "Failed", done
    assert time.monotonic() - started < 10
    assert error_of(done)["Message"]


async def test_parse_error_refuses_creation(svc: TaskService) -> None:
    before = len(svc.list())
    with pytest.raises(CompileError) as info:
        await svc.create(TaskSpec(code="'ok'\nif ($true { 'x' }", id="ps-parse-error"))
    diag = info.value.diagnostics[0]
    assert diag["Line"] == 2 and diag["Severity"] == "Error" and diag["Id"]
    assert len(svc.list()) == before and not svc.exists("ps-parse-error")


async def test_cancel_start_sleep(svc: TaskService) -> None:
    rec = await svc.create(TaskSpec(code="Start-Sleep -Seconds 60", auto_start=True))
    await wait_for(lambda: svc.get(rec["Id"])["State"] == "Running")
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    assert await svc.cancel(rec["Id"])
    assert time.monotonic() - t0 < 0.1  # cancelling never blocks the caller
    done = await svc.wait(rec["Id"], 5)
    assert done["State"] == "Stopped" and done["Error"] is None
    assert time.monotonic() - t0 < 2


async def test_cancel_before_start(svc: TaskService) -> None:
    rec = await svc.create(TaskSpec(code="1"))
    assert await svc.cancel(rec["Id"])
    done = svc.get(rec["Id"])
    assert done["State"] == "Stopped" and done["Progress"]["StatusMessage"] == "Cancelled before start"
    with pytest.raises(TaskConflictError):
        await svc.start(rec["Id"])


async def test_timeout_fails_with_timeout_exception(svc: TaskService) -> None:
    done = await run(svc, "Start-Sleep -Seconds 30", timeout_seconds=0.5)
    assert done["State"] == "Failed"
    assert error_of(done)["Type"] == "TimeoutException"
    assert "0.5 seconds" in error_of(done)["Message"]


async def test_deep_and_cyclic_output(svc: TaskService) -> None:
    done = await run(
        svc,
        """
        $cycle = @{ Name = 'root' }; $cycle.Self = $cycle; $cycle
        $deep = 'bottom'; 1..30 | ForEach-Object { $deep = @{ Inner = $deep } }; $deep
        [pscustomobject]@{ When = [datetime]'2026-01-02T03:04:05Z'; Span = [timespan]'01:02:03'; Nan = [double]::NaN }
        Get-Item /
    """,
    )
    assert done["State"] == "Completed"
    cycle, deep, custom, item = svc.result(done["Id"])["Output"]
    assert cycle["Name"] == "root" and isinstance(cycle["Self"], str)  # the cycle became a string
    depth, node = 0, deep
    while isinstance(node, dict):
        node, depth = node["Inner"], depth + 1
    assert isinstance(node, str) and depth <= 8  # depth-limited
    assert custom == {"When": custom["When"], "Span": "01:02:03", "Nan": "NaN"}
    assert custom["When"].startswith("2026-01-02T")
    assert item["FullName"] == "/"


async def test_output_size_limit(isolation: Isolation) -> None:
    async with own_service(isolation, max_runspaces=1, output_max_bytes=1000) as service:
        done = await run(service, "1..1000 | ForEach-Object { 'x' * 50 }")
        assert done["State"] == "Completed"
        out = service.result(done["Id"])["Output"]
        assert 0 < len(out) < 1000
        notes = [r["Message"] for r in service.streams(done["Id"])["Records"] if r["Stream"] == "Warning"]
        assert any("of 1000 output objects kept" in n for n in notes)


# ---------------------------------------------------------------- C# and VB


async def test_csharp_typed_arguments_and_globals(svc: TaskService) -> None:
    done = await run(
        svc,
        """
        TaskProgress.PercentComplete = 50;
        var kinds = string.Join(",", total.GetType().Name, big.GetType().Name, ratio.GetType().Name,
                                flag.GetType().Name, label.GetType().Name, items.Length, map["k"]);
        $"{kinds}|{TaskId == Arguments["id"].ToString()}|{CancellationToken.CanBeCanceled}"
    """,
        CS,
        arguments={
            "total": 1500,
            "big": 2**40,
            "ratio": 0.5,
            "flag": True,
            "label": "s",
            "items": [1, "two"],
            "map": {"k": "v"},
            "id": "x",
        },
    )
    assert done["State"] == "Completed", done["Error"]
    assert svc.result(done["Id"])["Output"] == "Int32,Int64,Double,Boolean,String,2,v|False|True"


async def test_csharp_await_and_console_capture(svc: TaskService) -> None:
    a = await svc.create(
        TaskSpec(
            code='for (var i = 0; i < 3; i++) { Console.WriteLine($"A{i}"); await Task.Delay(20); } "a"',
            language=CS,
            auto_start=True,
        )
    )
    b = await svc.create(
        TaskSpec(
            code='for (var i = 0; i < 3; i++) { Console.Write($"B{i}"); Console.WriteLine(); '
            'Console.Error.WriteLine("oops"); await Task.Delay(20); } "b"',
            language=CS,
            auto_start=True,
        )
    )
    for rec, prefix in ((a, "A"), (b, "B")):
        done = await svc.wait(rec["Id"], 30)
        assert done["State"] == "Completed"
        info = [r["Message"] for r in svc.streams(rec["Id"])["Records"] if r["Stream"] == "Information"]
        assert info == [f"{prefix}{i}" for i in range(3)]
    assert [r["Stream"] for r in svc.streams(b["Id"])["Records"]].count("Error") == 3


async def test_csharp_compile_error_refuses_creation(svc: TaskService) -> None:
    with pytest.raises(CompileError) as info:
        await svc.create(
            TaskSpec(code="var ok = 1;\n\nvar bad = ok + nothere;", language=CS, id="cs-bad", arguments={"total": 1})
        )
    diag = [d for d in info.value.diagnostics if d["Severity"] == "Error"]
    assert [(d["Id"], d["Line"], d["Column"]) for d in diag] == [("CS0103", 3, 16)]
    assert "CS0103" in info.value.detail and "line 3" in info.value.detail
    assert not svc.exists("cs-bad")


async def test_csharp_exception_fails_with_position(svc: TaskService) -> None:
    done = await run(svc, 'var x = 1;\nthrow new InvalidOperationException("nope");', CS)
    assert done["State"] == "Failed"
    assert error_of(done)["Type"] == "System.InvalidOperationException"
    assert error_of(done)["Message"] == "nope" and error_of(done)["Line"] == 2


async def test_csharp_cancel_with_token_is_prompt(svc: TaskService) -> None:
    rec = await svc.create(TaskSpec(code="await Task.Delay(60000, CancellationToken); 1", language=CS, auto_start=True))
    await wait_for(lambda: svc.get(rec["Id"])["State"] == "Running")
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    await svc.cancel(rec["Id"])
    done = await svc.wait(rec["Id"], 5)
    assert done["State"] == "Stopped"
    assert time.monotonic() - t0 < 0.25


async def test_uncooperative_csharp_is_abandoned_after_grace(svc: TaskService) -> None:
    before = svc.abandoned
    rec = await svc.create(
        TaskSpec(
            code="var end = DateTime.UtcNow.AddSeconds(20); while (DateTime.UtcNow < end) { } 1",
            language=CS,
            auto_start=True,
        )
    )
    await wait_for(lambda: svc.get(rec["Id"])["State"] == "Running")
    await svc.cancel(rec["Id"])
    assert svc.get(rec["Id"])["State"] == "Stopping"
    done = await svc.wait(rec["Id"], 10)
    assert done["State"] == "Stopped"
    assert stopped_after_grace(svc, done)
    assert svc.abandoned == before + 1


async def _cancel_inside_call(svc: TaskService, call: str) -> tuple[TaskRecordJson, float]:
    """Start ``call`` after a progress marker, cancel once the marker shows; return (record, seconds)."""
    rec = await svc.create(TaskSpec(code=f"$TaskProgress.StatusMessage = 'in call'; {call}; 'late'", auto_start=True))
    await wait_for(lambda: svc.get(rec["Id"])["Progress"]["StatusMessage"] == "in call")
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    await svc.cancel(rec["Id"])
    done = await svc.wait(rec["Id"], 10)
    return done, time.monotonic() - t0


@pytest.mark.parametrize(
    "call",
    [
        "[System.Threading.Thread]::Sleep(4000)",
        # Catastrophic backtracking, bounded at 4 s by the regex timeout whatever the CPU.
        "[regex]::Match(('a' * 40) + '!', '^(a+)+$', 'None', [timespan]::FromSeconds(4))",
    ],
)
async def test_uninterruptible_powershell_call_is_abandoned_after_grace(svc: TaskService, call: str) -> None:
    # The pipeline stop cannot interrupt a .NET method call; the task is let go after the grace period.
    done, seconds = await _cancel_inside_call(svc, call)
    assert done["State"] == "Stopped" and stopped_after_grace(svc, done), done
    assert 0.9 <= seconds < 3.5  # the 1 s grace period of this service, not the 4 s call
    assert svc.result(done["Id"])["Output"] is None  # never finished: no output
    assert svc.running_count < svc.config.max_runspaces  # its slot was given back


async def test_powershell_stop_reaches_script_block_callbacks(svc: TaskService) -> None:
    done, seconds = await _cancel_inside_call(
        svc,
        "$end = [datetime]::UtcNow.AddSeconds(15); "
        "[System.Threading.SpinWait]::SpinUntil([Func[bool]]{ [datetime]::UtcNow -gt $end })",
    )
    assert done["State"] == "Stopped" and done["Progress"]["StatusMessage"] == "Cancelled"
    assert seconds < 0.9


async def test_vb_arguments_progress_and_token(svc: TaskService) -> None:
    done = await run(
        svc,
        'TaskProgress.StatusMessage = "vb"\n'
        "Await Task.Delay(10, CancellationToken)\n"
        'Console.WriteLine("from vb")\n'
        'Return name & ":" & (total * 2).ToString()',
        VB,
        arguments={"total": 21, "name": "n"},
    )
    assert done["State"] == "Completed", done["Error"]
    assert svc.result(done["Id"])["Output"] == "n:42"
    assert [r["Message"] for r in svc.streams(done["Id"])["Records"]] == ["from vb"]


async def test_vb_compile_error_user_lines(svc: TaskService) -> None:
    with pytest.raises(CompileError) as info:
        await svc.create(TaskSpec(code="Dim a = 1\nReturn a + nothere", language=VB))
    assert [(d["Id"], d["Line"]) for d in info.value.diagnostics if d["Severity"] == "Error"] == [("BC30451", 2)]


async def test_vb_cancel_with_token(svc: TaskService) -> None:
    rec = await svc.create(
        TaskSpec(code="Await Task.Delay(60000, CancellationToken)\nReturn 1", language=VB, auto_start=True)
    )
    await wait_for(lambda: svc.get(rec["Id"])["State"] == "Running")
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    await svc.cancel(rec["Id"])
    assert (await svc.wait(rec["Id"], 5))["State"] == "Stopped"
    assert time.monotonic() - t0 < 0.25


async def test_csharp_cyclic_result(svc: TaskService) -> None:
    done = await run(
        svc,
        'class Node { public string Name = "n"; public Node Next { get; set; } }\nvar n = new Node(); n.Next = n; n',
        CS,
    )
    assert done["State"] == "Completed"
    out = svc.result(done["Id"])["Output"]
    assert isinstance(out, dict) and isinstance(out["Next"], str)


async def test_identical_code_is_compiled_once(svc: TaskService) -> None:
    code = "total + 1 /* compile-once */"
    before = compilations(svc)
    first = await run(svc, code, CS, arguments={"total": 1})
    second = await run(svc, code, CS, arguments={"total": 41})
    assert compilations(svc) == before + 1
    assert svc.result(second["Id"])["Output"] == 42 and svc.result(first["Id"])["Output"] == 2
    await run(svc, code, CS, arguments={"total": "text"})  # other argument types: another compilation
    assert compilations(svc) == before + 2


def loaded_assemblies_after_gc() -> int:
    """Assemblies in the process after full .NET collections (unloaded script contexts are gone by then)."""
    from System import GC, AppDomain

    for _ in range(3):
        gc.collect()
        GC.Collect()
        GC.WaitForPendingFinalizers()
    return int(AppDomain.CurrentDomain.GetAssemblies().Length)


async def test_distinct_csharp_scripts_do_not_grow_without_bound(isolation: Isolation) -> None:
    async with own_service(isolation, max_runspaces=4, compile_cache_size=16) as service:
        # In process isolation the scripts are loaded (and must be unloaded) in the worker, not here.
        if isolation == "process":
            await run(service, "1", CS)
            engine = service.engines[CS]
            assert isinstance(engine, ProcessEngine)
            proc = psutil.Process(engine.shared.pool.workers[0].pid)
        else:
            proc = psutil.Process()

        async def churn(start: int, count: int) -> None:
            for i in range(start, start + count):
                rec = await run(service, f"var data = new byte[64 * 1024]; data.Length + {i}", CS)
                assert service.result(rec["Id"])["Output"] == 65536 + i, (rec["State"], rec["Error"])
                assert await service.remove(rec["Id"])

        await churn(0, 50)  # warm-up: caches, JIT, heaps
        gc.collect()
        baseline = proc.memory_info().rss
        assemblies = loaded_assemblies_after_gc() if isolation == "thread" else 0
        await churn(50, 200)
        gc.collect()
        grown_mb = (proc.memory_info().rss - baseline) / 2**20
        assert compile_cache(service)[0] <= 16
        if isolation == "thread":
            # Regression: pythonnet's assembly-load handler kept every script assembly, so none was collected.
            grown_assemblies = loaded_assemblies_after_gc() - assemblies
            print(f"200 distinct C# scripts: RSS {grown_mb:+.1f} MiB, loaded assemblies {grown_assemblies:+d}")
            assert grown_assemblies <= 16
        else:
            print(f"200 distinct C# scripts: worker RSS {grown_mb:+.1f} MiB")
        assert proc.is_running() and grown_mb < 200


# ---------------------------------------------------------------- concurrency, queue, parents, removal


async def test_queue_fifo_with_two_slots(isolation: Isolation) -> None:
    async with own_service(isolation, max_runspaces=2) as service:
        ids = []
        for i in range(4):
            rec = await service.create(TaskSpec(code=f"Start-Sleep -Milliseconds 600; {i}", auto_start=True))
            ids.append(rec["Id"])
        states = [service.get(i)["State"] for i in ids]
        assert states == ["Running", "Running", "Queued", "Queued"]
        assert service.queue_length == 2
        t0 = time.monotonic()
        fast = await service.create(TaskSpec(code="1"))  # creating, reading, cancelling stay fast
        service.get(fast["Id"])
        assert await service.cancel(ids[3])
        assert service.get(ids[3])["State"] == "Stopped"
        assert time.monotonic() - t0 < 1
        done = [await service.wait(i, 30) for i in ids[:3]]
        assert [d["State"] for d in done] == ["Completed"] * 3
        ended = [d["CompletedAt"] for d in done[:2]]
        third_started = done[2]["StartedAt"]
        assert third_started is not None and ended[0] is not None and ended[1] is not None
        assert third_started >= min(ended[0], ended[1])
        assert service.get(ids[3])["StartedAt"] is None


async def test_mixed_languages_share_the_limit(isolation: Isolation) -> None:
    async with own_service(isolation, max_runspaces=1) as service:
        a = await service.create(TaskSpec(code="await Task.Delay(400); 1", language=CS, auto_start=True))
        b = await service.create(TaskSpec(code="2", auto_start=True))
        assert service.get(b["Id"])["State"] == "Queued"
        assert (await service.wait(b["Id"], 30))["State"] == "Completed"
        assert service.get(a["Id"])["State"] == "Completed"


async def test_parent_child_and_removal(svc: TaskService) -> None:
    parent = await svc.create(TaskSpec(code="'p'", auto_start=True))
    child = await svc.create(TaskSpec(code="Start-Sleep 30", parent_id=parent["Id"].upper(), auto_start=True))
    grandchild = await svc.create(TaskSpec(code="'g'", parent_id=child["Id"]))
    assert svc.get(parent["Id"])["ChildrenId"] == [child["Id"]]
    assert svc.get(child["Id"])["ParentId"] == parent["Id"]
    assert [r["Id"] for r in svc.list(parent_id=child["Id"])] == [grandchild["Id"]]
    await svc.wait(parent["Id"], 30)
    with pytest.raises(TaskConflictError):
        await svc.remove(parent["Id"])  # a descendant is still running
    with pytest.raises(TaskConflictError):
        await svc.remove(child["Id"])  # running, not forced
    assert await svc.remove(child["Id"], force=True)  # cancels, then removes with its child
    assert not svc.exists(child["Id"]) and not svc.exists(grandchild["Id"])
    assert svc.get(parent["Id"])["ChildrenId"] == []
    assert await svc.remove(parent["Id"])
    assert not svc.exists(parent["Id"])


async def test_removing_a_finished_parent_removes_children(svc: TaskService) -> None:
    parent = await run(svc, "1")
    kids = [await svc.create(TaskSpec(code="2", parent_id=parent["Id"])) for _ in range(2)]
    assert await svc.remove(parent["Id"])
    assert not any(svc.exists(k["Id"]) for k in kids)


async def test_events_deliver_progress_then_final_state(svc: TaskService) -> None:
    rec = await svc.create(
        TaskSpec(
            code="1..3 | % { $TaskProgress.PercentComplete = $_ * 30; "
            "Write-Warning \"step $_\"; Start-Sleep -Milliseconds 300 }; 'done'"
        )
    )
    seen: list[tuple[str, Any]] = []

    async def listen() -> None:
        async for kind, data in svc.events(rec["Id"]):
            seen.append((kind, data))

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.05)
    await svc.start(rec["Id"])
    await asyncio.wait_for(listener, 30)
    kinds = [k for k, _ in seen]
    assert kinds[0] == "state" and seen[0][1]["State"] == "NotStarted"
    progress_events = [d["Progress"] for k, d in seen if k == "progress"]
    # Regression: the first step used to repeat the unchanged progress as an event.
    assert all(a != b for a, b in itertools.pairwise(progress_events))
    assert progress_events[0]["StatusMessage"] == "Running"
    assert seen[-1][0] == "state" and seen[-1][1]["State"] == "Completed"
    assert "progress" in kinds and kinds.index("progress") < len(kinds) - 1
    assert [d["Message"] for k, d in seen if k == "stream"] == ["step 1", "step 2", "step 3"]
    percents = [d["Progress"]["PercentComplete"] for k, d in seen if k == "progress"]
    assert 30 in percents or 60 in percents


async def test_console_read_never_blocks(svc: TaskService) -> None:
    # Regression: Console.In was the daemon's stdin; a task reading it could hang on a terminal.
    done = await run(svc, 'Console.ReadLine() ?? "no input"', CS, timeout=20)
    assert svc.result(done["Id"])["Output"] == "no input"
    done = await run(svc, "[Console]::ReadLine() -eq $null", timeout=20)
    assert svc.result(done["Id"])["Output"] == [True]


async def test_huge_powershell_output_is_bounded(isolation: Isolation) -> None:
    async with own_service(isolation, max_runspaces=1, output_max_items=1000) as service:
        done = await run(service, "1..200000")
        assert done["State"] == "Completed"
        assert service.result(done["Id"])["Output"] == list(range(1, 1001))
        notes = [r["Message"] for r in service.streams(done["Id"])["Records"]]
        assert notes == ["199000 output objects were dropped (limit 1000 objects)."]


async def test_extra_imports_and_refs(svc: TaskService) -> None:
    done = await run(
        svc,
        "PSVersionInfo.PSVersion.ToString()",
        CS,
        extra_imports=["System.Management.Automation"],
        extra_refs=["System.Management.Automation"],
    )
    assert svc.result(done["Id"])["Output"] == "7.6.9"
    with pytest.raises(CompileError) as info:
        await svc.create(TaskSpec(code="1", language=VB, extra_refs=["No.Such.Assembly"]))
    assert info.value.diagnostics[0]["Id"] == "KRT0001"
    with pytest.raises(TaskValidationError) as bad:
        await svc.create(TaskSpec(code="1", extra_imports=["System.IO"]))
    assert bad.value.field == "ExtraImports"


async def test_service_default_timeout(isolation: Isolation) -> None:
    async with own_service(isolation, max_runspaces=1, default_timeout_seconds=0.5) as service:
        rec = await service.create(TaskSpec(code="Start-Sleep 20"))
        assert rec["TimeoutSeconds"] == 0.5
        assert await service.start(rec["Id"])
        done = await service.wait(rec["Id"], 10)
        assert done["State"] == "Failed" and error_of(done)["Type"] == "TimeoutException"
        own = await service.create(TaskSpec(code="'quick'", timeout_seconds=30, auto_start=True))
        assert (await service.wait(own["Id"], 10))["TimeoutSeconds"] == 30


async def test_finished_task_releases_its_script(isolation: Isolation) -> None:
    # Regression: finished C#/VB tasks held their compiled script until removal (up to max_finished).
    async with own_service(isolation, max_runspaces=2, compile_cache_size=2) as service:
        for i in range(6):
            await run(service, f"{i} + 1", CS)
        await asyncio.sleep(0.2)  # releases run on the compile pool
        assert compile_cache(service)[0] <= 2
        waiting = await service.create(TaskSpec(code="40 + 2", language=CS))
        assert await service.cancel(waiting["Id"])  # cancelled before start: also released
        await asyncio.sleep(0.2)
        assert compile_cache(service)[0] <= 2
        held = await service.create(TaskSpec(code='"held until removed"', language=CS))
        assert compile_cache(service)[1]  # a NotStarted task holds its script...
        assert await service.remove(held["Id"])
        assert not compile_cache(service)[1]  # ...until it is removed
