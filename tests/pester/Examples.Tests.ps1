# Runnable documentation: every example of every cmdlet's help runs as written, and so does
# examples/Tasks.ps1. The examples start their own daemon: $env:KRTASKS_STATE_DIR points to a temporary
# state dir and $env:PORT to a free port, so a plain `Add-KrTasks` (the first example) starts it there.

BeforeDiscovery {
    $root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    Import-Module (Join-Path $root 'module/KrTasks.psd1') -Force
    $all = foreach ($command in Get-Command -Module KrTasks -CommandType Function | Sort-Object Name) {
        $number = 0
        foreach ($example in (Get-Help -Name $command.Name -Full).examples.example) {
            $number++
            @{ Command = $command.Name; Number = $number; Code = [string]$example.code }
        }
    }
    # Add-KrTasks first (it starts the daemon), Stop-KrTasksDaemon last (it stops it).
    $script:AddExamples = @($all | Where-Object { $_.Command -eq 'Add-KrTasks' })
    $script:TaskExamples = @($all | Where-Object { $_.Command -notin 'Add-KrTasks', 'Stop-KrTasksDaemon' })
    $script:StopExamples = @($all | Where-Object { $_.Command -eq 'Stop-KrTasksDaemon' })
}

BeforeAll {
    $script:Root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    Import-Module (Join-Path $Root 'module/KrTasks.psd1') -Force
    $script:SavedEnv = @{ KRTASKS_STATE_DIR = $env:KRTASKS_STATE_DIR; PORT = $env:PORT }
    $script:StateDir = Join-Path ([System.IO.Path]::GetTempPath()) "krtasks-examples-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
    $env:KRTASKS_STATE_DIR = $StateDir
    $env:PORT = "$port"

    # Runs one example's code as written, in a child scope; any error fails it.
    function script:Invoke-Example([string] $Code) {
        $ErrorActionPreference = 'Stop'
        $block = [scriptblock]::Create($Code)
        $null = & $block 6>&1 3>&1
    }
}

AfterAll {
    # Whatever happened, no daemon is left behind.
    $cli = Join-Path $Root '.venv/bin/krtasks'
    if ((Test-Path (Join-Path $StateDir 'daemon.json')) -and (Test-Path $cli)) { & $cli stop --state-dir $StateDir | Out-Null }
    foreach ($name in $SavedEnv.Keys) { Set-Item -Path "env:$name" -Value $SavedEnv[$name] -ErrorAction SilentlyContinue; if ($null -eq $SavedEnv[$name]) { Remove-Item "env:$name" -ErrorAction SilentlyContinue } }
    Remove-Module KrTasks -Force -ErrorAction SilentlyContinue
    if (Test-Path $StateDir) { Remove-Item -Recurse -Force $StateDir }
    # New-KrTask's file example writes this one.
    Remove-Item -Path (Join-Path ([System.IO.Path]::GetTempPath()) 'krtasks-example.ps1') -ErrorAction SilentlyContinue
    # And its -WorkingDirectory example this directory.
    Remove-Item -Path (Join-Path ([System.IO.Path]::GetTempPath()) 'krtasks-work') -Recurse -ErrorAction SilentlyContinue
}

Describe 'Help examples run as written' {
    Context 'Add-KrTasks' {
        It 'example <Number> runs' -ForEach $AddExamples {
            Invoke-Example $Code
        }

        It 'started the daemon in the temporary state dir' {
            (Get-Content -Raw (Join-Path $StateDir 'daemon.json') | ConvertFrom-Json).Port | Should -Be ([int]$env:PORT)
        }
    }

    Context 'Task cmdlets' {
        It '<Command> example <Number> runs' -ForEach $TaskExamples {
            Invoke-Example $Code
        }
    }

    Context 'examples/Tasks.ps1' {
        It 'runs clean from a fresh pwsh' {
            # Same pwsh as this one: a regular install has its own binary, the .NET tool runs pwsh.dll.
            $exe = Join-Path $PSHOME 'pwsh'
            $prefix = @()
            if (-not (Test-Path $exe)) { $exe = 'dotnet'; $prefix = @(Join-Path $PSHOME 'pwsh.dll') }
            $output = & $exe @prefix -NoProfile -NonInteractive -File (Join-Path $Root 'examples/Tasks.ps1') -StateDir $StateDir 2>&1
            $text = $output -join "`n"
            $LASTEXITCODE | Should -Be 0 -Because $text
            @($output | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty -Because $text
            $text | Should -Match 'PS task done at'
            $text | Should -Match 'CS task done at'
            $text | Should -Match 'VB squares: 1, 4, 9'
            $text | Should -Match 'State after the cancel: Stopped'
            # It found the running daemon, so it left it running.
            Test-Path (Join-Path $StateDir 'daemon.json') | Should -BeTrue
        }
    }

    Context 'Stop-KrTasksDaemon' {
        BeforeAll {
            # The Add-KrTasks examples left a URL-only connection as the default; take the local one again.
            Add-KrTasks
            $script:DaemonPid = (Get-Content -Raw (Join-Path $StateDir 'daemon.json') | ConvertFrom-Json).Pid
        }

        It 'example <Number> runs' -ForEach $StopExamples {
            Invoke-Example $Code
        }

        It 'stopped the daemon' {
            Get-Process -Id $DaemonPid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Test-Path (Join-Path $StateDir 'daemon.json') | Should -BeFalse
        }

        It 'refuses to stop a daemon this session did not start, unless -Force' {
            $cli = Join-Path $Root '.venv/bin/krtasks'
            # Another process starts a daemon; this session only connects to it.
            $process = Start-Process -FilePath $cli -ArgumentList 'serve', '--state-dir', $StateDir, '--port', '0' -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'out.log') -RedirectStandardError (Join-Path $TestDrive 'err.log')
            try {
                $deadline = [datetime]::UtcNow.AddSeconds(60)
                while (-not (Test-Path (Join-Path $StateDir 'daemon.json')) -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
                $foreign = Add-KrTasks -PassThru
                $foreign.StartedBySession | Should -BeFalse
                Stop-KrTasksDaemon -ErrorVariable err -ErrorAction SilentlyContinue
                $err[0].FullyQualifiedErrorId | Should -Be 'KrTasks.NotStartedBySession,Stop-KrTasksDaemon'
                $process.HasExited | Should -BeFalse
                Stop-KrTasksDaemon -Force
                $process.WaitForExit(30000) | Should -BeTrue
            }
            finally {
                if (-not $process.HasExited) { $process.Kill() }
            }
        }

        It 'reports nothing to stop when no daemon is connected' {
            Stop-KrTasksDaemon -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -Be 'KrTasks.NotConnected,Stop-KrTasksDaemon'
        }
    }
}
