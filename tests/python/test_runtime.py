"""Proof that real PowerShell, C# and VB.NET code runs inside this Python process (issue 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from krtasks.runtime import RuntimeInfo, RuntimeNotAvailableError, check_bundle, load_runtime


def run_ps(script: str) -> tuple[list[Any], list[str], list[str]]:
    """Run a script on a fresh runspace; return (output as strings, errors, warnings)."""
    from System.Management.Automation import PowerShell
    from System.Management.Automation.Runspaces import InitialSessionState, RunspaceFactory

    rs = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault())
    rs.Open()
    ps = PowerShell.Create()
    ps.Runspace = rs
    try:
        ps.AddScript(script)
        out = [o.BaseObject if o is not None else None for o in ps.Invoke()]
        return out, [str(e) for e in ps.Streams.Error], [str(w) for w in ps.Streams.Warning]
    finally:
        ps.Dispose()
        rs.Dispose()


def test_runtime_versions(runtime: RuntimeInfo) -> None:
    assert runtime.dotnet_version.startswith("10.")
    assert runtime.powershell_version == "7.6.9"
    assert os.environ["POWERSHELL_TELEMETRY_OPTOUT"] == "1"


def test_load_twice_is_harmless(runtime: RuntimeInfo) -> None:
    assert load_runtime() is runtime
    assert load_runtime(runtime.bundle) is runtime


def test_reloading_from_another_bundle_is_refused(runtime: RuntimeInfo, tmp_path: Path) -> None:
    with pytest.raises(RuntimeNotAvailableError, match="cannot be reloaded"):
        load_runtime(tmp_path)


def test_missing_bundle_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(RuntimeNotAvailableError, match=r"does not exist.*build.ps1 -Task Build"):
        check_bundle(tmp_path / "nope")
    (tmp_path / "KrTasks.Runtime.runtimeconfig.json").write_text("{}")
    with pytest.raises(RuntimeNotAvailableError, match=r"lacks KrTasks.Runtime.dll.*-Task Build"):
        check_bundle(tmp_path)


def test_missing_bundle_in_a_fresh_process_fails_clearly(tmp_path: Path) -> None:
    env = dict(os.environ, KRTASKS_BUNDLE=str(tmp_path / "absent"))
    proc = subprocess.run(
        [sys.executable, "-c", "from krtasks.runtime import load_runtime; load_runtime()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "RuntimeNotAvailableError" in proc.stderr
    assert "build.ps1 -Task Build" in proc.stderr


def test_powershell_arithmetic(runtime: RuntimeInfo) -> None:
    out, errors, _ = run_ps("1 + 1")
    assert out == [2]
    assert errors == []


def test_powershell_version_table(runtime: RuntimeInfo) -> None:
    out, _, _ = run_ps("$PSVersionTable.PSVersion.ToString()")
    assert out == ["7.6.9"]


def test_powershell_builtin_modules_load(runtime: RuntimeInfo) -> None:
    script = (
        "$d = Get-Date -Year 2026 -Month 1 -Day 2; "
        "Start-Sleep -Milliseconds 10; "
        "Write-Warning 'careful'; "
        "@{ Year = $d.Year; Json = (@{ a = 1 } | ConvertTo-Json -Compress) } | ConvertTo-Json -Compress"
    )
    out, errors, warnings = run_ps(script)
    assert errors == []
    assert warnings == ["careful"]
    assert json.loads(out[0]) == {"Year": 2026, "Json": '{"a":1}'}


def test_powershell_modules_folder_is_next_to_sma(runtime: RuntimeInfo) -> None:
    # A PSModulePath inherited from a parent pwsh may list another copy; ours must be among them.
    out, _, _ = run_ps("(Get-Module -ListAvailable Microsoft.PowerShell.Utility).ModuleBase")
    assert str(runtime.bundle / "Modules" / "Microsoft.PowerShell.Utility") in out
    out, _, _ = run_ps("$PSHOME")
    assert out == [str(runtime.bundle)]


def test_powershell_throw_surfaces_message(runtime: RuntimeInfo) -> None:
    with pytest.raises(Exception, match="kaboom"):
        run_ps("throw 'kaboom'")


def _globals() -> Any:
    from KrTasks.Runtime import TaskArguments, TaskGlobals, TaskProgress
    from System.Threading import CancellationTokenSource

    return TaskGlobals("t", TaskProgress(), TaskArguments.FromJson("{}"), CancellationTokenSource().Token)


def _run(compiled: Any) -> Any:
    from KrTasks.Runtime import StreamSink

    task = compiled.Image.Load().Start(_globals(), StreamSink(10))
    assert task.Wait(60_000)
    return task.Result


def _compile(lang: str, code: str) -> Any:
    from KrTasks.Runtime import ScriptCompiler, TaskArguments

    args = TaskArguments.FromJson("{}")
    fn = ScriptCompiler.CompileCSharp if lang == "cs" else ScriptCompiler.CompileVisualBasic
    return fn(code, args, [], [])


def test_csharp_expression(runtime: RuntimeInfo) -> None:
    assert _run(_compile("cs", "1 + 1")) == 2


def test_csharp_top_level_await(runtime: RuntimeInfo) -> None:
    assert _run(_compile("cs", 'await Task.Delay(1); return "ok";')) == "ok"


def test_csharp_compile_error_has_id_and_user_position(runtime: RuntimeInfo) -> None:
    result = _compile("cs", "var a = 1;\nvar b = a +\n  missing;")
    assert not result.Success
    errors = [d for d in result.Diagnostics if d.Severity == "Error"]
    assert [(d.Id, d.Line, d.Column) for d in errors] == [("CS0103", 3, 3)]
    assert "missing" in errors[0].Message


def test_vb_return(runtime: RuntimeInfo) -> None:
    assert _run(_compile("vb", "Return 40 + 2")) == 42


def test_vb_compile_error_has_id_and_user_lines(runtime: RuntimeInfo) -> None:
    result = _compile("vb", "Dim a = 1\n\nReturn a + undefinedName")
    assert not result.Success
    errors = [d for d in result.Diagnostics if d.Severity == "Error"]
    assert [(d.Id, d.Line) for d in errors] == [("BC30451", 3)]
    assert errors[0].Column == 12
