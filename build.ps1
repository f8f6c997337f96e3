<#
.SYNOPSIS
    Builds, tests and runs KrTasks.
.DESCRIPTION
    Build  : publishes the .NET bundle (PowerShell SDK 7.6.9, Roslyn 5.12.0, our helper library and
             PowerShell's built-in Modules), creates .venv with the daemon installed editable (test
             extras), and restores Pester. Each step is skipped when its inputs did not change.
    Test   : Build, then lint (ruff check, ruff format --check, mypy), pytest (the fast tier in
             tests/python/unit and the integration suites), and Pester. Exits non-zero if anything fails.
    Serve  : Build, then `krtasks serve` (token auth) on -Port.
    Demo   : Build, then `krtasks demo`: the tutorial routes, no auth, https://127.0.0.1:<Port>.
    Bench  : Build, then the benchmarks in bench/ (bench/run_bench.py; $env:KRTASKS_BENCH_ARGS adds options).
    BenchCluster : Build, then bench/cluster.py: the shared PostgreSQL store against SQLite (a throwaway
             PostgreSQL server, 1-3 nodes); $env:KRTASKS_BENCH_CLUSTER_ARGS adds options (e.g. --tasks 100).
    Fuzz   : Build, then the API contract test (schemathesis) with more examples and a random seed:
             $env:KRTASKS_CONTRACT_EXAMPLES (default 300), $env:KRTASKS_CONTRACT_SEED (default random);
             the report (JUnit and schemathesis' output) goes to build/fuzz/.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Test
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Demo -Port 5000
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Serve', 'Demo', 'Bench', 'BenchCluster', 'Lint', 'Fuzz')]
    [string] $Task = 'Build',
    [int] $Port = $(if ($env:PORT) { [int]$env:PORT } else { 5000 }),
    # Extra arguments for pytest (e.g. -k name) in Test.
    [string[]] $PytestArgs = @()
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$Root = $PSScriptRoot
$Stamps = Join-Path $Root '.build'
$Bundle = Join-Path $Root 'daemon/bundle/publish'
$Venv = Join-Path $Root '.venv'
$VenvPython = Join-Path $Venv 'bin/python'
$PesterVersion = '5.7.1'

function Write-Step([string] $Message) { Write-Host "==> $Message" -ForegroundColor Cyan }

function Invoke-Native {
    # Runs a native command and throws when it fails, so every step stops the build on error.
    param([string] $FilePath, [string[]] $Arguments)
    & $FilePath @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$FilePath $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Get-InputHash([string[]] $Paths) {
    # One hash over the content of every input file, so a step re-runs only when an input changed.
    $files = foreach ($p in $Paths) { Get-ChildItem -Path $p -File -Recurse -ErrorAction SilentlyContinue }
    $sb = [System.Text.StringBuilder]::new()
    foreach ($f in ($files | Sort-Object FullName)) {
        [void]$sb.Append($f.FullName).Append(':').Append((Get-FileHash -Algorithm SHA256 -LiteralPath $f.FullName).Hash).Append(';')
    }
    $bytes = [System.Text.Encoding]::UTF8.GetBytes($sb.ToString())
    [System.Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($bytes))
}

function Test-Stamp([string] $Name, [string] $Hash) {
    $file = Join-Path $Stamps $Name
    (Test-Path $file) -and ((Get-Content -Raw $file).Trim() -eq $Hash)
}

function Set-Stamp([string] $Name, [string] $Hash) {
    New-Item -ItemType Directory -Force -Path $Stamps | Out-Null
    Set-Content -Path (Join-Path $Stamps $Name) -Value $Hash
}

function Find-Python {
    foreach ($name in 'python3', 'python3.13', 'python3.12', 'python3.11', 'python') {
        $cmd = Get-Command $name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($cmd) {
            $ok = & $cmd.Source -c 'import sys; print(sys.version_info >= (3, 11))' 2>$null
            if ($LASTEXITCODE -eq 0 -and $ok -eq 'True') { return $cmd.Source }
        }
    }
    throw 'Python 3.11 or newer was not found on PATH.'
}

function Invoke-BuildBundle {
    $projectDir = Join-Path $Root 'daemon/bundle'
    $hash = Get-InputHash @((Join-Path $projectDir '*.cs'), (Join-Path $projectDir '*.csproj'))
    if ((Test-Path (Join-Path $Bundle 'KrTasks.Runtime.dll')) -and (Test-Stamp 'bundle' $hash)) {
        Write-Step 'Bundle is up to date'
        return
    }
    Write-Step 'Publishing the .NET bundle (PowerShell SDK, Roslyn, KrTasks.Runtime)'
    Invoke-Native dotnet @('publish', (Join-Path $projectDir 'KrTasks.Bundle.csproj'), '-c', 'Release', '-o', $Bundle, '--nologo', '-v', 'quiet')
    Set-Stamp 'bundle' $hash
}

function Invoke-BuildVenv {
    $hash = Get-InputHash @((Join-Path $Root 'pyproject.toml'))
    if ((Test-Path (Join-Path $Venv 'bin/krtasks')) -and (Test-Stamp 'venv' $hash)) {
        Write-Step 'Python environment is up to date'
        return
    }
    if (-not (Test-Path $VenvPython)) {
        Write-Step 'Creating .venv'
        Invoke-Native (Find-Python) @('-m', 'venv', $Venv)
    }
    Write-Step 'Installing krtasks (editable, with test extras) into .venv'
    # pip honours PIP_INDEX_URL / PIP_FIND_LINKS / PIP_NO_INDEX from the environment (offline machines).
    Invoke-Native $VenvPython @('-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-e', "$Root[test]")
    Set-Stamp 'venv' $hash
}

function Get-PesterManifest {
    $nugetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    Join-Path $nugetRoot "pester/$PesterVersion/tools/Pester.psd1"
}

function Invoke-BuildPester {
    if (Test-Path (Get-PesterManifest)) {
        Write-Step "Pester $PesterVersion is present"
        return
    }
    Write-Step "Restoring Pester $PesterVersion"
    Invoke-Native dotnet @('restore', (Join-Path $Root 'tests/pester/tools/PesterTools.csproj'), '--nologo', '-v', 'quiet')
}

function Invoke-Build {
    Invoke-BuildBundle
    Invoke-BuildVenv
    Invoke-BuildPester
}

function Invoke-Lint {
    $paths = @((Join-Path $Root 'daemon'), (Join-Path $Root 'tests/python'), (Join-Path $Root 'bench'))
    Write-Step 'ruff check'
    Invoke-Native $VenvPython (@('-m', 'ruff', 'check') + $paths)
    Write-Step 'ruff format --check'
    Invoke-Native $VenvPython (@('-m', 'ruff', 'format', '--check') + $paths)
    Write-Step 'mypy (daemon, tests and bench)'
    Invoke-Native $VenvPython @('-m', 'mypy', '--config-file', (Join-Path $Root 'pyproject.toml'))
}

function Invoke-Pytest {
    Write-Step 'pytest'
    & $VenvPython -m pytest @PytestArgs | Out-Host
    $LASTEXITCODE
}

function Invoke-PesterTests {
    Write-Step "Pester $PesterVersion"
    # A child pwsh keeps Pester and the module under test out of this build session.
    $script = @'
param($PesterManifest, $TestsPath, $Root)
Import-Module $PesterManifest -Force
$env:KRTASKS_ROOT = $Root
$config = New-PesterConfiguration
$config.Run.Path = $TestsPath
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $config
"Pester: $($result.PassedCount) passed, $($result.FailedCount) failed, $($result.SkippedCount) skipped"
if ($result.FailedCount -gt 0 -or $result.Result -ne 'Passed') { exit 1 }
exit 0
'@
    $file = Join-Path ([System.IO.Path]::GetTempPath()) "krtasks-pester-$PID.ps1"
    Set-Content -Path $file -Value $script
    try {
        & (Get-PwshCommand) @(Get-PwshPrefix) -NoProfile -NonInteractive -File $file (Get-PesterManifest) (Join-Path $Root 'tests/pester') $Root | Out-Host
        $LASTEXITCODE
    }
    finally { Remove-Item $file -ErrorAction SilentlyContinue }
}

function Get-PwshCommand {
    # pwsh from the local .NET tool runs as `dotnet <PSHOME>/pwsh.dll`; a regular install has its own binary.
    $exe = Join-Path $PSHOME 'pwsh'
    if (Test-Path $exe) { $exe } else { 'dotnet' }
}

function Get-PwshPrefix {
    if (Test-Path (Join-Path $PSHOME 'pwsh')) { @() } else { @(Join-Path $PSHOME 'pwsh.dll') }
}

function Get-KrTasksCli { Join-Path $Venv 'bin/krtasks' }

switch ($Task) {
    'Build' { Invoke-Build }
    'Lint' { Invoke-Build; Invoke-Lint }
    'Test' {
        Invoke-Build
        $lintFailed = $false
        try { Invoke-Lint } catch { Write-Host $_ -ForegroundColor Red; $lintFailed = $true }
        $pytestCode = Invoke-Pytest
        $pesterCode = Invoke-PesterTests
        Write-Host ''
        Write-Host "Summary: lint $(if ($lintFailed) { 'FAILED' } else { 'ok' }); pytest exit $pytestCode; Pester exit $pesterCode"
        if ($lintFailed -or $pytestCode -ne 0 -or $pesterCode -ne 0) { exit 1 }
        exit 0
    }
    'Serve' {
        Invoke-Build
        & (Get-KrTasksCli) serve --port $Port
        exit $LASTEXITCODE
    }
    'Demo' {
        Invoke-Build
        & (Get-KrTasksCli) demo --port $Port
        exit $LASTEXITCODE
    }
    'Fuzz' {
        Invoke-Build
        $report = Join-Path $Root 'build/fuzz'
        New-Item -ItemType Directory -Force -Path $report | Out-Null
        $env:KRTASKS_CONTRACT_EXAMPLES = if ($env:KRTASKS_CONTRACT_EXAMPLES) { $env:KRTASKS_CONTRACT_EXAMPLES } else { '300' }
        $env:KRTASKS_CONTRACT_SEED = if ($env:KRTASKS_CONTRACT_SEED) { $env:KRTASKS_CONTRACT_SEED } else { 'random' }
        $env:KRTASKS_CONTRACT_REPORT = $report
        $env:KRTASKS_CONTRACT_BUDGET = '3000'
        Write-Step "schemathesis: $env:KRTASKS_CONTRACT_EXAMPLES examples, seed $env:KRTASKS_CONTRACT_SEED (report in $report)"
        & $VenvPython -m pytest (Join-Path $Root 'tests/python/test_api_contract.py') -s -k schemathesis -p no:cacheprovider | Out-Host
        exit $LASTEXITCODE
    }
    'Bench' {
        Invoke-Build
        # The baselines run in this same pwsh (as a child process); $env:KRTASKS_BENCH_ARGS adds options
        # such as --quick or --profile FILE (see bench/run_bench.py --help).
        $pwsh = (@(Get-PwshCommand) + @(Get-PwshPrefix) | ForEach-Object { '"' + $_ + '"' }) -join ' '
        $extra = @(if ($env:KRTASKS_BENCH_ARGS) { -split $env:KRTASKS_BENCH_ARGS })
        & $VenvPython (Join-Path $Root 'bench/run_bench.py') --pwsh $pwsh @extra | Out-Host
        exit $LASTEXITCODE
    }
    'BenchCluster' {
        Invoke-Build
        # Needs PostgreSQL's server binaries (Debian: apt-get install postgresql), as the cluster tests do.
        $extra = @(if ($env:KRTASKS_BENCH_CLUSTER_ARGS) { -split $env:KRTASKS_BENCH_CLUSTER_ARGS })
        & $VenvPython (Join-Path $Root 'bench/cluster.py') @extra | Out-Host
        exit $LASTEXITCODE
    }
}
