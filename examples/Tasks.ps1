<#
.SYNOPSIS
    The Kestrun Tasks tutorial, done with the KrTasks cmdlets.
.DESCRIPTION
    Walks through the seed tutorial's "Try it" session with cmdlets instead of curl: create a
    PowerShell, a C# and a VB.NET task (created, not started), start them by id, follow their
    state and progress, wait, read the results, cancel a long task, remove tasks, run a one-shot
    task, read a task's streams, and list everything.

    It uses the daemon that runs for -StateDir (or starts one on -Port, stopped again at the end
    unless -KeepDaemon). Run it from the repository root:

        dotnet pwsh ./examples/Tasks.ps1
.PARAMETER StateDir
    The daemon's state directory. Default: the daemon's default ($env:KRTASKS_STATE_DIR, else
    ~/.local/share/krtasks).
.PARAMETER Port
    The port for a daemon this script starts. Default 0: a free port.
.PARAMETER KeepDaemon
    Leave a daemon this script started running (the next Add-KrTasks connects to it).
.EXAMPLE
    dotnet pwsh ./examples/Tasks.ps1
.EXAMPLE
    dotnet pwsh ./examples/Tasks.ps1 -StateDir /tmp/krtasks-demo -KeepDaemon
#>
[CmdletBinding()]
param(
    [string] $StateDir,
    [ValidateRange(0, 65535)]
    [int] $Port = 0,
    [switch] $KeepDaemon
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../module/KrTasks.psd1')

function Write-Step([string] $Text) { Write-Host "`n== $Text" -ForegroundColor Cyan }

# Tasks: enable the feature (Kestrun: Add-KrTasks). Starts a daemon, or connects to the running one.
$add = @{ Port = $Port; PassThru = $true }
if ($StateDir) { $add.StateDir = $StateDir }
$connection = Add-KrTasks @add
Write-Host "KrTasks daemon $($connection.Version) at $($connection.Uri) (state dir $($connection.StateDir))"

try {
    Write-Step 'Create a PowerShell task (does not start)'
    # The task behind the tutorial's /tasks/create/ps: one step per second, with progress while i < sec.
    $psId = New-KrTask -Name 'tutorial ps' -Arguments @{ sec = 2 } -ScriptBlock {
        for ($i = 1; $i -le $sec; $i++) {
            if ($i -lt $sec) {
                $TaskProgress.StatusMessage = "Sleeping ($i/$sec)"
                $TaskProgress.PercentComplete = [int](($i - 1) * 100 / $sec)
            }
            Start-Sleep -Seconds 1
        }
        $TaskProgress.Complete('Completed')
        'PS task done at ' + (Get-Date).ToString('o')
    }
    Write-Host "PowerShell task: $psId"

    Write-Step 'Create a C# task (does not start)'
    # The task behind /tasks/create/cs: five steps of total/5 ms; the token makes a cancel stop it at once.
    $csId = New-KrTask -Name 'tutorial cs' -Language CSharp -Arguments @{ total = 1500 } -Code @'
for (int i = 1; i <= 5; i++)
{
    TaskProgress.StatusMessage = $"Working {i}/5";
    TaskProgress.PercentComplete = (i - 1) * 20;
    await Task.Delay(total / 5, CancellationToken);
}
return "CS task done at " + DateTime.UtcNow.ToString("o");
'@
    Write-Host "C# task: $csId"

    Write-Step 'Create a VB.NET task (does not start)'
    $vbId = New-KrTask -Name 'tutorial vb' -Language VBNet -Arguments @{ Count = 3 } -Code @'
Dim squares = Enumerable.Range(1, Count).Select(Function(n) n * n)
Return "VB squares: " & String.Join(", ", squares)
'@
    Write-Host "VB task: $vbId"

    Write-Step 'Start the tasks by id'
    foreach ($id in $psId, $csId, $vbId) { Write-Host "Start-KrTask $id -> $(Start-KrTask -Id $id)" }
    # As in Kestrun, a refused start is $false and no error (this script runs under $ErrorActionPreference = 'Stop').
    Write-Host "A second start is refused: $(Start-KrTask -Id $psId)"

    Write-Step 'Check state and the detailed record'
    Start-Sleep -Milliseconds 500
    $state = Get-KrTaskState -Id $psId
    Write-Host "State of the PowerShell task: $state ($([int]$state) as Kestrun's TaskState number)"
    Get-KrTask -Id $psId | Format-List Id, Name, StateText, StartedAt, Progress | Out-Host
    Write-Host "Result before the end: '$(Get-KrTaskResult -Id $psId)' (nothing yet)"

    Write-Step 'Wait for them (a progress bar per task) and read the results'
    Wait-KrTask -Id $psId, $csId, $vbId -Timeout 60 | Format-Table | Out-Host
    foreach ($id in $psId, $csId, $vbId) { Write-Host "Result of ${id}: $(Get-KrTaskResult -Id $id)" }

    Write-Step 'Cancel a long task'
    $longId = Start-KrTask -Name 'long sleeper' -ScriptBlock { Start-Sleep -Seconds 60; 'never' }
    Start-Sleep -Milliseconds 300
    Write-Host "Stop-KrTask -> $(Stop-KrTask -Id $longId)"
    $stopped = Wait-KrTask -Id $longId -Timeout 30
    Write-Host "State after the cancel: $($stopped.State) ($($stopped.Progress.StatusMessage))"
    Write-Host "Cancelling a finished task -> $(Stop-KrTask -Id $psId)"

    Write-Step 'Run a one-shot task (create and start in one call)'
    $oneShot = Start-KrTask -Name 'one-shot' -ScriptBlock {
        Write-Warning 'a warning from the task'
        Write-Information 'an information record'
        Get-Date -Format o
    }
    Write-Host "One-shot task $oneShot; receiving its streams and output:"
    Receive-KrTask -Id $oneShot -Wait -InformationAction Continue | ForEach-Object { Write-Host "  output: $_" }

    Write-Step 'List all tasks'
    Get-KrTask | Format-Table | Out-Host

    Write-Step 'Remove tasks'
    foreach ($id in $csId, $vbId, $longId) { Write-Host "Remove-KrTask $id -> $(Remove-KrTask -Id $id -Confirm:$false)" }
    $removed = Get-KrTask -StateFilter Completed | Where-Object Name -In 'tutorial ps', 'one-shot' | Remove-KrTask -Confirm:$false
    Write-Host "Removed the remaining finished tutorial tasks: $($removed -join ', ')"
    if ($null -eq (Get-KrTask -Id $psId)) { Write-Host "Get-KrTask -Id $psId now gives `$null (unknown id)" }
}
finally {
    if (-not $KeepDaemon -and $connection.StartedBySession) {
        Write-Step 'Stop the daemon this script started'
        Stop-KrTasksDaemon -Connection $connection -Confirm:$false
    }
}
