<#
.SYNOPSIS
    PowerShell's own job engines, timed the way bench/run_bench.py times KrTasks (issue 7).
.DESCRIPTION
    Prints one line of JSON: sample lists (ms) and throughputs (tasks/s). Run by run_bench.py in a child
    pwsh, so the baselines get a process of their own, like the daemon.
#>
[CmdletBinding()]
param(
    [int] $RoundtripSamples = 30,
    [int] $StartJobSamples = 5,
    [int] $Tasks = 1000,
    [int] $ThrottleLimit = 8,
    [int] $Repeats = 1
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

function Measure-Ms([scriptblock] $Block) {
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $null = & $Block
    $sw.Elapsed.TotalMilliseconds
}

function Assert-Count([object[]] $Items, [int] $Expected, [string] $What) {
    # A baseline that lost output would look faster than it is.
    if (@($Items).Count -ne $Expected) { throw "$What returned $(@($Items).Count) items, expected $Expected" }
}

# Warm-up: the first job of each kind pays module loading and JIT, which no later sample does.
$null = Start-ThreadJob { 1 } | Receive-Job -Wait -AutoRemoveJob
$null = Start-Job { 1 } | Receive-Job -Wait -AutoRemoveJob
$null = 1..($ThrottleLimit * 2) | ForEach-Object -Parallel { 1 } -ThrottleLimit $ThrottleLimit
$null = 1..($ThrottleLimit * 2) | ForEach-Object { Start-ThreadJob { 1 } -ThrottleLimit $ThrottleLimit } |
    Receive-Job -Wait -AutoRemoveJob

$threadJob = foreach ($i in 1..$RoundtripSamples) {
    Measure-Ms { Start-ThreadJob { 1 } | Receive-Job -Wait -AutoRemoveJob }
}
$startJob = foreach ($i in 1..$StartJobSamples) {
    Measure-Ms { Start-Job { 1 } | Receive-Job -Wait -AutoRemoveJob }
}

$threadJobThroughput = foreach ($r in 1..$Repeats) {
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $jobs = foreach ($i in 1..$Tasks) { Start-ThreadJob { 1 } -ThrottleLimit $ThrottleLimit }
    $out = $jobs | Receive-Job -Wait -AutoRemoveJob
    $sw.Stop()
    Assert-Count $out $Tasks 'Start-ThreadJob'
    $Tasks / $sw.Elapsed.TotalSeconds
}
$parallelThroughput = foreach ($r in 1..$Repeats) {
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $out = 1..$Tasks | ForEach-Object -Parallel { 1 } -ThrottleLimit $ThrottleLimit
    $sw.Stop()
    Assert-Count $out $Tasks 'ForEach-Object -Parallel'
    $Tasks / $sw.Elapsed.TotalSeconds
}

[ordered]@{
    powershell_version         = $PSVersionTable.PSVersion.ToString()
    threadjob_module_version   = (Get-Module Microsoft.PowerShell.ThreadJob).Version.ToString()
    threadjob_roundtrip_ms     = @($threadJob)
    startjob_roundtrip_ms      = @($startJob)
    threadjob_throughput       = @($threadJobThroughput)
    foreach_parallel_throughput = @($parallelThroughput)
} | ConvertTo-Json -Compress
