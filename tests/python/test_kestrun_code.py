"""What C# and VB.NET task code sees, as in Kestrun (issue 12, points 3, 9, 10, 12): default imports and
references, Locals and Globals, VB's ``g`` and Microsoft.VisualBasic; empty code; a cancelled C# task that
ignores the cancel keeps its result. In-process, against the real Roslyn and PowerShell engines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from krtasks.core.service import TaskService
from krtasks.errors import CompileError
from krtasks.models import Language, ServiceConfig, TaskRecordJson, TaskSpec
from krtasks.runtime import RuntimeInfo

PS, CS, VB = Language.POWERSHELL, Language.CSHARP, Language.VBNET

# Kestrun's platform imports (less ASP.NET Core and Serilog), each with a type it brings into scope.
KESTRUN_IMPORTS = {
    "Microsoft.PowerShell": "ExecutionPolicy",
    "Microsoft.VisualBasic": "Strings",
    "System": "Guid",
    "System.Collections": "Hashtable",
    "System.Collections.Generic": "HashSet<int>",
    "System.Collections.Immutable": "ImmutableArray<int>",
    "System.IO": "Path",
    "System.Linq": "Enumerable",
    "System.Management.Automation": "PSObject",
    "System.Management.Automation.Runspaces": "Runspace",
    "System.Net": "WebUtility",
    "System.Net.Http.Headers": "MediaTypeHeaderValue",
    "System.Reflection": "BindingFlags",
    "System.Runtime.InteropServices": "Marshal",
    "System.Security.Claims": "ClaimsIdentity",
    "System.Security.Cryptography.X509Certificates": "X509Certificate2",
    "System.Text": "StringBuilder",
    "System.Text.Encodings.Web": "JavaScriptEncoder",
    "System.Text.RegularExpressions": "Regex",
    "System.Threading": "Interlocked",
    "System.Threading.Tasks": "TaskCompletionSource",
}


@pytest.fixture(scope="module")
async def svc(runtime: RuntimeInfo) -> AsyncIterator[TaskService]:
    service = TaskService(ServiceConfig(max_runspaces=2, stop_grace_seconds=5.0))
    await service.open()
    yield service
    await service.close(grace_seconds=2)


async def run(svc: TaskService, code: str, language: Language, **kw: Any) -> tuple[TaskRecordJson, Any]:
    """Create with AutoStart, wait for the end; the record and the output."""
    rec = await svc.create(TaskSpec(code=code, language=language, auto_start=True, **kw))
    done = await svc.wait(rec["Id"], 60)
    assert done["State"] == "Completed", done["Error"]
    return done, svc.result(rec["Id"])["Output"]


# ---------------------------------------------------------------- point 9: imports and references


async def test_csharp_sees_kestrun_imports_without_extra_imports(svc: TaskService) -> None:
    _, out = await run(svc, 'return Path.GetFileName("/a/b.txt") + Regex.IsMatch("x", "x") + File.Exists("/nope");', CS)
    assert out == "b.txtTrueFalse"
    _, out = await run(
        svc, 'var h = new Hashtable { ["k"] = 1 }; var p = new PSObject("v"); return h.Count + ":" + p.BaseObject;', CS
    )
    assert out == "1:v"


async def test_csharp_every_default_namespace_resolves(svc: TaskService) -> None:
    # One typeof per namespace: losing any import (or the reference behind it) fails the compile.
    names = ", ".join(f"typeof({t}).Namespace" for t in KESTRUN_IMPORTS.values())
    _, out = await run(svc, f'return string.Join("|", new[] {{ {names} }});', CS)
    assert out.split("|") == list(KESTRUN_IMPORTS)


async def test_visual_basic_every_default_namespace_resolves(svc: TaskService) -> None:
    vb_types = [t.replace("<int>", "(Of Integer)") for t in KESTRUN_IMPORTS.values()]
    names = ", ".join(f"GetType({t}).Namespace" for t in vb_types)
    _, out = await run(svc, f'Return String.Join("|", New String() {{ {names} }})', VB)
    assert out.split("|") == list(KESTRUN_IMPORTS)


async def test_powershell_sdk_is_referenced(svc: TaskService) -> None:
    # The bundle's SDK assemblies are references: a cmdlet type from Microsoft.PowerShell.Commands.Utility.
    _, out = await run(
        svc, "return typeof(Microsoft.PowerShell.Commands.WriteOutputCommand).Assembly.GetName().Name;", CS
    )
    assert out == "Microsoft.PowerShell.Commands.Utility"
    _, out = await run(
        svc, 'using (var ps = PowerShell.Create()) { ps.AddScript("6 * 7"); return ps.Invoke()[0].BaseObject; }', CS
    )
    assert out == 42


async def test_compile_error_still_names_the_users_line(svc: TaskService) -> None:
    # The longer import list must not shift positions.
    with pytest.raises(CompileError) as info:
        await svc.create(TaskSpec(code="var a = 1;\nreturn a + nothere;", language=CS, arguments={"n": 1}))
    assert [(d["Id"], d["Line"]) for d in info.value.diagnostics if d["Severity"] == "Error"] == [("CS0103", 2)]
    with pytest.raises(CompileError) as info:
        await svc.create(TaskSpec(code="Dim a = 1\nReturn a + nothere", language=VB, arguments={"n": 1}))
    assert [(d["Id"], d["Line"]) for d in info.value.diagnostics if d["Severity"] == "Error"] == [("BC30451", 2)]
    assert not [d for d in info.value.diagnostics if d["Severity"] == "Warning"]  # every Imports resolves


async def test_warm_compile_stays_fast(svc: TaskService) -> None:
    # Compiles share one reference manager; a warm distinct compile took ~50 ms before this change (bench/
    # compile_time.py). A generous bound that still catches rebinding ~200 references per script on 2 cores.
    await run(svc, "return 0;", CS)
    samples = []
    for i in range(5):
        began = time.perf_counter()
        await svc.create(TaskSpec(code=f"return {i} + 1; // warm {time.monotonic_ns()}", language=CS))
        samples.append(time.perf_counter() - began)
    assert sorted(samples)[2] < 0.5, samples


# ---------------------------------------------------------------- point 10: globals


async def test_csharp_locals_and_globals(svc: TaskService) -> None:
    _, out = await run(
        svc,
        """
        var kind = Locals.GetType() == typeof(Dictionary<string, object>);
        var sum = (int)Locals["N"] + (int)Locals["n"];  // names are case-insensitive, as the arguments
        Locals["n"] = 100;                              // a run's own copy
        var shared = Globals is IReadOnlyDictionary<string, object>;
        return $"{kind}|{sum}|{Arguments["n"]}|{Locals.Count}|{Globals.Count}|{shared}";
    """,
        CS,
        arguments={"n": 21, "label": "x"},
    )
    assert out == "True|42|21|2|0|True"


async def test_csharp_globals_is_read_only(svc: TaskService) -> None:
    with pytest.raises(CompileError) as info:
        await svc.create(TaskSpec(code='Globals["shared"] = 1; return 1;', language=CS))
    assert info.value.diagnostics[0]["Id"] == "CS0200"  # no setter: nothing is shared between tasks


async def test_csharp_argument_named_locals_does_not_hide_them(svc: TaskService) -> None:
    _, out = await run(svc, 'return Locals["Locals"] + ":" + Locals.Count;', CS, arguments={"Locals": "arg"})
    assert out == "arg:1"


async def test_visual_basic_g_and_microsoft_visual_basic(svc: TaskService) -> None:
    _, out = await run(
        svc,
        'Dim s = Len("abcd") & vbCrLf & CInt("5") & "|" & (Now.Year >= 2026)\n'
        'Return s & "|" & g.Locals("n") & "|" & g.Globals.Count & "|" & n & "|" & '
        '(KrTaskGlobals.TaskId = TaskId) & "|" & g.TaskProgress.StatusMessage',
        VB,
        arguments={"n": 7},
    )
    assert out == "4\r\n5|True|7|0|7|True|Running"


async def test_visual_basic_argument_named_g(svc: TaskService) -> None:
    _, out = await run(svc, 'Return g.Locals("g") & ":" & g.Locals("other")', VB, arguments={"G": 1, "other": 2})
    assert out == "1:2"


# ---------------------------------------------------------------- point 3: empty code; point 12: cancel


@pytest.mark.parametrize("language", [PS, CS, VB])
@pytest.mark.parametrize("code", ["", "   \n"])
async def test_empty_code_completes_with_no_output(svc: TaskService, language: Language, code: str) -> None:
    done, out = await run(svc, code, language)
    assert done["Error"] is None
    assert out == ([] if language == PS else None)


async def test_cancelled_csharp_without_token_keeps_its_result(svc: TaskService) -> None:
    # The tutorial's C# task awaits Task.Delay without the token: a cancel lets it finish; it ends Stopped
    # (the cancel was asked for) and keeps what it returned.
    rec = await svc.create(
        TaskSpec(
            code='TaskProgress.StatusMessage = "in"; await Task.Delay(800); '
            'TaskProgress.Complete("Completed"); return "kept";',
            language=CS,
            auto_start=True,
        )
    )
    deadline = time.monotonic() + 20
    while svc.get(rec["Id"])["Progress"]["StatusMessage"] != "in":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert await svc.cancel(rec["Id"])
    assert svc.get(rec["Id"])["State"] == "Stopping"
    done = await svc.wait(rec["Id"], 10)
    assert done["State"] == "Stopped" and done["Error"] is None
    assert svc.result(rec["Id"])["Output"] == "kept"
