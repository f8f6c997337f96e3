"""Runspace reuse after a verified reset (``ReuseRunspace``, ``--reuse-runspaces``), with real PowerShell in
both isolation modes: what one task leaves behind is not visible to the next task on the same runspace, a
runspace whose reset does not verify is not reused, and fresh runspaces stay the default."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from krtasks.core.service import TaskService
from krtasks.errors import TaskUnprocessableError
from krtasks.models import Isolation, Language, ServiceConfig, TaskSpec
from krtasks.runtime import RuntimeInfo

RUNSPACE_ID = "[runspace]::DefaultRunspace.InstanceId.ToString()"

# Everything a task can change in its runspace that the next task could see.
POLLUTE = (
    r"""
param($ModulePath)
$plain = 'plain'
$global:leaked = 'global'
function Leaky { 'function' }
function global:GlobalLeaky { 'global function' }
Set-Alias -Name leakalias -Value Get-Date
Set-Alias -Name globalleakalias -Value Get-Date -Scope Global
Import-Module $ModulePath
$ErrorActionPreference = 'Stop'
$global:VerbosePreference = 'Continue'
$WarningPreference = 'SilentlyContinue'
$PSDefaultParameterValues['Get-Date:Format'] = 'o'
Set-Location ([IO.Path]::GetTempPath())
New-PSDrive -Name Leak -PSProvider FileSystem -Root ([IO.Path]::GetTempPath()) | Out-Null
Set-StrictMode -Version Latest
$null = Register-EngineEvent -SourceIdentifier KrTasksLeak -Action { 1 }
try { throw 'into $Error' } catch { }
"""
    + RUNSPACE_ID
)

INSPECT = (
    r"""
$seen = [ordered]@{
    plain = [bool](Get-Variable plain -ErrorAction Ignore)
    globalVariable = [bool](Get-Variable leaked -Scope Global -ErrorAction Ignore)
    function = [bool](Get-Command Leaky -ErrorAction Ignore)
    globalFunction = [bool](Get-Command GlobalLeaky -ErrorAction Ignore)
    alias = [bool](Get-Alias leakalias -ErrorAction Ignore)
    globalAlias = [bool](Get-Alias globalleakalias -ErrorAction Ignore)
    module = [bool](Get-Module LeakModule)
    moduleFunction = [bool](Get-Command Get-Leak -ErrorAction Ignore)
    errorAction = "$ErrorActionPreference"
    verbose = "$VerbosePreference"
    warning = "$WarningPreference"
    defaults = $PSDefaultParameterValues.Count
    location = "$PWD"
    drive = [bool](Get-PSDrive Leak -ErrorAction Ignore)
    strict = $(try { $null = $undefinedVariable; 'off' } catch { 'on' })
    subscribers = @(Get-EventSubscriber).Count
    errors = $Error.Count
}
$seen | ConvertTo-Json -Compress
"""
    + RUNSPACE_ID
)

CLEAN = {
    "plain": False,
    "globalVariable": False,
    "function": False,
    "globalFunction": False,
    "alias": False,
    "globalAlias": False,
    "module": False,
    "moduleFunction": False,
    "errorAction": "Continue",
    "verbose": "SilentlyContinue",
    "warning": "Continue",
    "defaults": 0,
    "drive": False,
    "strict": "off",
    "subscribers": 0,
    "errors": 0,
}


@pytest.fixture(scope="module", params=["process", "thread"])
def isolation(request: pytest.FixtureRequest, runtime: RuntimeInfo) -> Isolation:
    mode: Isolation = request.param
    return mode


@contextlib.asynccontextmanager
async def service(isolation: Isolation, **config: Any) -> AsyncIterator[TaskService]:
    # One slot and one worker: consecutive tasks meet the same runspace pool.
    svc = TaskService(ServiceConfig(isolation=isolation, max_runspaces=1, min_workers=1, **config))
    await svc.open()
    try:
        yield svc
    finally:
        await svc.close()


async def output(svc: TaskService, code: str, **kw: Any) -> list[Any]:
    record = await svc.create(TaskSpec(code=code, auto_start=True, **kw))
    done = await svc.wait(record["Id"], 60)
    assert done["State"] == "Completed", (done, svc.streams(record["Id"]))
    result: list[Any] = svc.result(record["Id"])["Output"]
    return result


async def pair(svc: TaskService, first: str, second: str, **kw: Any) -> tuple[list[Any], list[Any]]:
    """Run ``first`` then, once its runspace had time to be reset, ``second``; both with ``kw``."""
    await asyncio.sleep(1.0)  # what ran before is reset and ready (the last reset is taken first)
    a = await output(svc, first, **kw)
    await asyncio.sleep(1.0)  # the reset runs in the background after the task
    b = await output(svc, second, **kw)
    return a, b


@pytest.fixture
def module_path(tmp_path: Path) -> str:
    path = tmp_path / "LeakModule.psm1"
    path.write_text("$script:state = 'module state'\nfunction Get-Leak { $script:state }\n")
    return str(path)


async def test_nothing_one_task_leaves_is_visible_to_the_next_on_the_same_runspace(
    isolation: Isolation, module_path: str
) -> None:
    async with service(isolation) as svc:
        baseline = await output(svc, INSPECT, reuse_runspace=True)
        fresh_location = json.loads(baseline[0])["location"]
        for _attempt in range(3):
            polluted, inspected = await pair(
                svc, POLLUTE, INSPECT, reuse_runspace=True, arguments={"ModulePath": module_path}
            )
            if polluted[-1] == inspected[-1]:
                break
        else:
            pytest.fail("the second task never got the first task's runspace back")
        seen = json.loads(inspected[0])
        assert seen == {**CLEAN, "location": fresh_location}, seen


async def test_a_runspace_whose_reset_does_not_verify_is_not_reused(isolation: Isolation) -> None:
    async with service(isolation) as svc:
        first, second = await pair(svc, RUNSPACE_ID, RUNSPACE_ID, reuse_runspace=True)
        assert first == second  # reuse works with this pool
        # A built-in function changed: the reset does not restore definitions, so verification refuses it.
        changed, after = await pair(
            svc, "function global:prompt { 'changed> ' }; " + RUNSPACE_ID, RUNSPACE_ID, reuse_runspace=True
        )
        assert changed != after
        assert (await output(svc, "(Get-Command prompt).Definition", reuse_runspace=True))[0].strip() != "'changed> '"


async def test_fresh_runspaces_stay_the_default(isolation: Isolation) -> None:
    async with service(isolation) as svc:
        first, second = await pair(svc, RUNSPACE_ID, RUNSPACE_ID)
        assert first != second
    async with service(isolation, reuse_runspaces=True) as svc:
        first, second = await pair(svc, RUNSPACE_ID, RUNSPACE_ID)
        assert first == second  # server-wide
        first, second = await pair(svc, RUNSPACE_ID, RUNSPACE_ID, reuse_runspace=False)
        assert first != second  # a task's own choice wins


async def test_reuse_is_for_powershell_only(isolation: Isolation) -> None:
    async with service(isolation) as svc:
        with pytest.raises(TaskUnprocessableError) as info:
            await svc.create(TaskSpec(code="return 1;", language=Language.CSHARP, reuse_runspace=True))
        assert info.value.field == "ReuseRunspace"
    async with service(isolation, reuse_runspaces=True) as svc:  # the server-wide default skips C#
        record = await svc.create(TaskSpec(code="return 1;", language=Language.CSHARP, auto_start=True))
        assert (await svc.wait(record["Id"], 60))["State"] == "Completed"
