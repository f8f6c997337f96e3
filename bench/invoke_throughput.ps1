<#
.SYNOPSIS
    Invoke-KrTask's throughput against a running daemon, timed like baselines.ps1 times ForEach-Object -Parallel.
.DESCRIPTION
    Run by bench/run_bench.py in a child pwsh with the module under test: connects to the daemon at -Uri
    (its token and certificate from -StateDir), warms up, then pipes 1..-Tasks into
    `Invoke-KrTask { 1 } -ThrottleLimit $ThrottleLimit` -Repeats times. Prints one line of JSON: the
    throughputs (tasks/s, one per repeat).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $Uri,
    [Parameter(Mandatory)] [string] $StateDir,
    [int] $Tasks = 1000,
    [int] $ThrottleLimit = 8,
    [int] $Repeats = 1
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force
$token = (Get-Content -Raw (Join-Path $StateDir 'token')).Trim()
Add-KrTasks -Uri $Uri -Token $token -CertificatePath (Join-Path $StateDir 'cert.pem')

# Warm-up: the module's first requests pay JIT and the connection set-up, which no later task does.
$null = 1..($ThrottleLimit * 4) | Invoke-KrTask { 1 } -ThrottleLimit $ThrottleLimit

$throughput = foreach ($r in 1..$Repeats) {
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $out = 1..$Tasks | Invoke-KrTask { 1 } -ThrottleLimit $ThrottleLimit
    $sw.Stop()
    # A run that lost output would look faster than it is.
    if (@($out).Count -ne $Tasks) { throw "Invoke-KrTask returned $(@($out).Count) items, expected $Tasks" }
    $Tasks / $sw.Elapsed.TotalSeconds
}
[ordered]@{ invoke_krtask_throughput = @($throughput) } | ConvertTo-Json -Compress
