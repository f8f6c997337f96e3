# The KrTasks cmdlets against a real daemon: Add-KrTasks starts one for a temporary state dir on a free
# port (BeforeAll), Stop-KrTasksDaemon stops it (AfterAll). Tasks are short; long ones are cancelled.

BeforeAll {
    $script:Root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    Import-Module (Join-Path $Root 'module/KrTasks.psd1') -Force
    $script:StateDir = Join-Path ([System.IO.Path]::GetTempPath()) "krtasks-pester-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
    $script:Connection = Add-KrTasks -StateDir $StateDir -Port 0 -MaxRunspaces 4 -PassThru
    $script:Token = (Get-Content -Raw (Join-Path $StateDir 'token')).Trim()
    $script:CertPath = Join-Path $StateDir 'cert.pem'

    # Polls a condition (a script block) every 100 ms up to $Seconds; returns its last value.
    function script:Wait-Until([scriptblock] $Condition, [double] $Seconds = 20) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        do {
            $value = & $Condition
            if ($value) { return $value }
            Start-Sleep -Milliseconds 100
        } while ($watch.Elapsed.TotalSeconds -lt $Seconds)
        $value
    }

    # Makes the test daemon the default connection again (after tests that change it).
    function script:Reset-Default {
        Add-KrTasks -StateDir $StateDir
    }

    # A new unknown id for the not-found tests.
    function script:New-UnknownId { "missing-$([guid]::NewGuid().ToString('N').Substring(0, 8))" }
}

AfterAll {
    if ($script:Connection) {
        Stop-KrTasksDaemon -Connection $Connection -Confirm:$false
        # The daemon is gone: its pid no longer runs and daemon.json was removed.
        Get-Process -Id $Connection.Pid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Test-Path (Join-Path $StateDir 'daemon.json') | Should -BeFalse
    }
    Remove-Module KrTasks -Force -ErrorAction SilentlyContinue
    if ($script:StateDir -and (Test-Path $StateDir)) { Remove-Item -Recurse -Force $StateDir }
}

Describe 'Add-KrTasks' {
    It 'started a daemon for the state dir and connected to it over pinned HTTPS' {
        $Connection.PSObject.TypeNames | Should -Contain 'KrTasks.Connection'
        $Connection.Uri.Scheme | Should -Be 'https'
        $Connection.Uri.Host | Should -Be '127.0.0.1'
        $Connection.Uri.Port | Should -BeGreaterThan 0
        $Connection.StartedBySession | Should -BeTrue
        $Connection.CertificatePath | Should -Be $CertPath
        $Connection.Version | Should -Not -BeNullOrEmpty
        Get-Process -Id $Connection.Pid | Should -Not -BeNullOrEmpty
        (Get-Content -Raw (Join-Path $StateDir 'daemon.json') | ConvertFrom-Json).Pid | Should -Be $Connection.Pid
        Test-Path (Join-Path $StateDir 'daemon.log') | Should -BeTrue
    }

    It 'does not show the token in the connection' {
        ($Connection | Format-List * | Out-String) | Should -Not -Match ([regex]::Escape($Token))
    }

    It 'has the Kestrun name Add-KrTasksService as an alias' {
        (Get-Alias Add-KrTasksService).ResolvedCommand.Name | Should -Be 'Add-KrTasks'
    }

    It 'connects to the daemon already running for the state dir instead of starting another' {
        $again = Add-KrTasks -StateDir $StateDir -Port 1 -PassThru -WarningVariable warnings -WarningAction SilentlyContinue
        $again.Pid | Should -Be $Connection.Pid
        $again.Uri | Should -Be $Connection.Uri
        $again.StartedBySession | Should -BeTrue
        $warnings | Should -HaveCount 1
        "$warnings" | Should -Match "port $($Connection.Uri.Port)"
    }

    It 'connects with -Uri, -Token and -CertificatePath' {
        try {
            $remote = Add-KrTasks -Uri $Connection.Uri -Token $Token -CertificatePath $CertPath -PassThru
            $remote.Uri | Should -Be $Connection.Uri
            # Still the daemon this session started: it knows its pid and state dir.
            $remote.StartedBySession | Should -BeTrue
            $remote.Pid | Should -Be $Connection.Pid
            $remote.StateDir | Should -Be $StateDir
            $id = New-KrTask -ScriptBlock { 'via uri' } -Connection $remote
            Get-KrTaskState -Id $id | Should -Be 'NotStarted'   # the default connection is now $remote
            Remove-KrTask -Id $id -Connection $Connection | Should -BeTrue
        }
        finally { Reset-Default }
    }

    It 'accepts the API root as -Uri' {
        try {
            $remote = Add-KrTasks -Uri "$($Connection.Uri.AbsoluteUri)api/v1/" -Token $Token -CertificatePath $CertPath -PassThru
            $remote.Uri.AbsolutePath | Should -Be '/'
        }
        finally { Reset-Default }
    }

    It 'refuses a daemon whose certificate is not the pinned one' {
        # Another self-signed certificate for the same names: TLS must fail, not silently pass.
        $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=localhost', $key, 'SHA256')
        $san = [System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
        $san.AddIpAddress([System.Net.IPAddress]::Loopback); $san.AddDnsName('localhost')
        $request.CertificateExtensions.Add($san.Build())
        $request.CertificateExtensions.Add([System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
        $other = $request.CreateSelfSigned([datetimeoffset]::UtcNow.AddDays(-1), [datetimeoffset]::UtcNow.AddDays(30))
        $otherPath = Join-Path $TestDrive 'other.pem'
        Set-Content -Path $otherPath -Value $other.ExportCertificatePem()
        { Add-KrTasks -Uri $Connection.Uri -Token $Token -CertificatePath $otherPath } |
            Should -Throw -ErrorId 'KrTasks.CertificateRejected,Add-KrTasks'
        # Without a pin the OS trust store applies, which does not know the self-signed certificate either.
        { Add-KrTasks -Uri $Connection.Uri -Token $Token } | Should -Throw -ErrorId 'KrTasks.CertificateRejected,Add-KrTasks'
    }

    It 'refuses a -CertificatePath without a readable certificate with a KrTasks error' {
        foreach ($text in 'not a certificate', '-----BEGIN nothing') {
            $bad = Join-Path $TestDrive 'bad.pem'
            Set-Content -Path $bad -Value $text
            $err = $null
            try { Add-KrTasks -Uri $Connection.Uri -Token $Token -CertificatePath $bad } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'KrTasks.CertificateUnreadable*'
            $err.CategoryInfo.Category | Should -Be 'InvalidData'
            $err.TargetObject | Should -Be $bad
            $err.Exception.Message | Should -Match ([regex]::Escape($bad))
        }
        Get-KrTask | Out-Null   # the default connection is unchanged
    }

    It 'turns certificate checks off only with -SkipCertificateCheck' {
        try {
            $insecure = Add-KrTasks -Uri $Connection.Uri -Token $Token -SkipCertificateCheck -PassThru
            $insecure.SkipCertificateCheck | Should -BeTrue
            { Get-KrTask -Connection $insecure -ErrorAction Stop } | Should -Not -Throw
        }
        finally { Reset-Default }
        { Add-KrTasks -Uri $Connection.Uri -Token $Token -CertificatePath $CertPath -SkipCertificateCheck } |
            Should -Throw -ErrorId 'KrTasks.ConflictingTrust,Add-KrTasks'
    }

    It 'refuses a wrong token with one authentication error' {
        { Add-KrTasks -Uri $Connection.Uri -Token 'not-the-token' -CertificatePath $CertPath } |
            Should -Throw -ErrorId 'KrTasks.Unauthorized,Add-KrTasks'
        try { Add-KrTasks -Uri $Connection.Uri -Token 'not-the-token' -CertificatePath $CertPath } catch { $err = $_ }
        $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
        Get-KrTask | Out-Null   # the default connection still works
    }

    It 'says how to start a daemon when none answers' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        try { Add-KrTasks -Uri "https://127.0.0.1:$port" -Token x -CertificatePath $CertPath } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'KrTasks.DaemonUnreachable,Add-KrTasks'
        $err.CategoryInfo.Category | Should -Be 'ConnectionError'
        $err.Exception.Message | Should -Match 'Add-KrTasks'
        $err.Exception.Message | Should -Match "127.0.0.1:$port"
    }
}

Describe 'Add-KrTasks start failures' {
    It 'quotes the daemon''s log when it exits during start-up' -Skip:$IsWindows {
        $fake = Join-Path $TestDrive 'fake-krtasks'
        Set-Content -Path $fake -Value "#!/bin/sh`necho 'krtasks: error: something is wrong with this machine' >&2`nexit 1"
        chmod +x $fake
        $saved = $env:KRTASKS_CLI
        try {
            $env:KRTASKS_CLI = $fake
            try { Add-KrTasks -StateDir (Join-Path $TestDrive 'fails') -Port 0 } catch { $err = $_ }
        }
        finally { $env:KRTASKS_CLI = $saved }
        $err.FullyQualifiedErrorId | Should -Be 'KrTasks.DaemonStartFailed,Add-KrTasks'
        $err.Exception.Message | Should -Match 'exit code 1'
        $err.Exception.Message | Should -Match 'something is wrong with this machine'
        Get-KrTask | Out-Null   # the default connection is unchanged
    }

    It 'gives up after -StartTimeoutSeconds and stops the half-started daemon' {
        $dir = Join-Path $TestDrive 'slow'
        try { Add-KrTasks -StateDir $dir -Port 0 -StartTimeoutSeconds 1 } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'KrTasks.DaemonStartTimeout,Add-KrTasks'
        $err.CategoryInfo.Category | Should -Be 'OperationTimeout'
        # Nothing keeps running for that state dir.
        $cli = Join-Path $Root '.venv/bin/krtasks'
        & $cli status --state-dir $dir | Out-Null
        $LASTEXITCODE | Should -Be 1
    }

    It 'refuses a state dir that cannot be a directory' {
        $file = Join-Path $TestDrive 'a-file'
        Set-Content -Path $file -Value 'x'
        { Add-KrTasks -StateDir $file -Port 0 } | Should -Throw -ErrorId 'KrTasks.StateDirUnusable,Add-KrTasks'
    }
}

Describe 'Connections' {
    It 'fails once, clearly, when no daemon is connected' {
        $emptyDir = Join-Path $TestDrive 'no-daemon'
        $saved = $env:KRTASKS_STATE_DIR
        try {
            $env:KRTASKS_STATE_DIR = $emptyDir
            InModuleScope KrTasks { $script:DefaultConnection = $null }
            $err = $null
            try { 'a', 'b', 'c' | Get-KrTaskState } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'KrTasks.NotConnected,Get-KrTaskState'
            $err.Exception.Message | Should -Match 'Add-KrTasks'
            # -Connection overrides the (missing) default.
            @(Get-KrTask -Connection $Connection).Count | Should -BeGreaterOrEqual 0
            $id = New-KrTask -ScriptBlock { 1 } -Connection $Connection
            Get-KrTaskState -Id $id -Connection $Connection | Should -Be 'NotStarted'
            Remove-KrTask -Id $id -Connection $Connection | Should -BeTrue
        }
        finally {
            $env:KRTASKS_STATE_DIR = $saved
            Reset-Default
        }
    }

    It 'uses a daemon already running in the default state dir without Add-KrTasks' {
        $saved = $env:KRTASKS_STATE_DIR
        try {
            $env:KRTASKS_STATE_DIR = $StateDir
            InModuleScope KrTasks { $script:DefaultConnection = $null }
            $id = New-KrTask -ScriptBlock { 1 }
            Get-KrTaskState -Id $id | Should -Be 'NotStarted'
            Remove-KrTask -Id $id | Should -BeTrue
        }
        finally {
            $env:KRTASKS_STATE_DIR = $saved
            Reset-Default
        }
    }

    It 'reports a daemon that stopped answering as one terminating error' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        $dead = InModuleScope KrTasks -Parameters @{ Port = $port; Cert = $CertPath } {
            param($Port, $Cert)
            New-KrTasksConnection -Uri "https://127.0.0.1:$Port" -Token x -CertificatePath $Cert
        }
        $errors = @()
        try { 'a', 'b' | Stop-KrTask -Connection $dead } catch { $errors += $_ }
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'KrTasks.DaemonUnreachable,Stop-KrTask'
        $errors[0].Exception.Message | Should -Match 'Start one with Add-KrTasks'
    }
}

Describe 'New-KrTask' {
    It 'creates a PowerShell task from a script block and returns its id (32 hex digits)' {
        $id = New-KrTask { 'hi' }
        $id | Should -BeOfType [string]
        $id | Should -Match '^[0-9a-f]{32}$'
        $record = Get-KrTask -Id $id
        $record.Language | Should -Be 'PowerShell'
        $record.State | Should -Be 'NotStarted'
        $record.Name | Should -Be "Task $id"
        $record.Progress.StatusMessage | Should -Be 'Not started'
    }

    It 'takes -Id, -Name and -Description and returns the record with -PassThru' {
        $id = "pester-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $record = New-KrTask -ScriptBlock { 1 } -Id $id -Name 'named' -Description 'described' -PassThru
        $record.PSObject.TypeNames[0] | Should -Be 'KrTasks.Task'
        $record.Id | Should -Be $id
        $record.Name | Should -Be 'named'
        $record.Description | Should -Be 'described'
        # Ids are case-insensitive.
        (Get-KrTask -Id $id.ToUpperInvariant()).Id | Should -Be $id
        # A taken id is a hard failure: terminating whatever -ErrorAction says.
        { New-KrTask -ScriptBlock { 1 } -Id $id -ErrorAction SilentlyContinue } | Should -Throw -ErrorId 'KrTasks.DuplicateId,New-KrTask'
        try { New-KrTask -ScriptBlock { 1 } -Id $id.ToUpperInvariant() } catch { $err = $_ }
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
    }

    It 'runs PowerShell from -Code, and -CodeBlock is an alias' {
        $a = New-KrTask -Code '"code " + $x' -Arguments @{ x = 1 } -AutoStart
        $b = New-KrTask -CodeBlock '"block"' -Language PowerShell -AutoStart
        Wait-KrTask -Id $a, $b -Timeout 30 | Should -HaveCount 2
        Get-KrTaskResult -Id $a | Should -Be 'code 1'
        Get-KrTaskResult -Id $b | Should -Be 'block'
    }

    It 'runs C# with typed arguments, TaskId and the last expression as result' {
        $id = New-KrTask -Language CSharp -Code 'await Task.Delay(50); total * 2 + TaskId.Length' -Arguments @{ total = 20 } -AutoStart
        (Wait-KrTask -Id $id -Timeout 30).State | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be (40 + $id.Length)
    }

    It 'runs VB.NET snippets that Return a value' {
        $id = New-KrTask -Language VBNet -Code 'Return Greeting & ", " & Count.ToString()' -Arguments @{ Greeting = 'Hello'; Count = 3 } -AutoStart
        (Wait-KrTask -Id $id -Timeout 30).State | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be 'Hello, 3'
    }

    It 'picks the language from -CodeFilePath' {
        Set-Content -Path (Join-Path $TestDrive 'task.ps1') -Value '"ps file"'
        Set-Content -Path (Join-Path $TestDrive 'task.cs') -Value '"cs file"'
        Set-Content -Path (Join-Path $TestDrive 'task.vb') -Value 'Return "vb file"'
        $ids = foreach ($ext in 'ps1', 'cs', 'vb') { New-KrTask -CodeFilePath (Join-Path $TestDrive "task.$ext") -AutoStart }
        (Get-KrTask -Id $ids).Language | Should -Be @('PowerShell', 'CSharp', 'VBNet')
        Wait-KrTask -Id $ids -Timeout 30 | Should -HaveCount 3
        $ids | ForEach-Object { Get-KrTaskResult -Id $_ } | Should -Be @('ps file', 'cs file', 'vb file')
    }

    It 'refuses a code file with another extension' {
        Set-Content -Path (Join-Path $TestDrive 'task.txt') -Value '1'
        { New-KrTask -CodeFilePath (Join-Path $TestDrive 'task.txt') } | Should -Throw -ErrorId 'KrTasks.UnknownCodeFileExtension,New-KrTask'
        { New-KrTask -CodeFilePath (Join-Path $TestDrive 'absent.ps1') } | Should -Throw -ErrorId 'KrTasks.CodeFileNotFound,New-KrTask'
    }

    It 'reports a compile error with its diagnostics (a terminating error) and creates nothing' {
        $before = @(Get-KrTask).Count
        $id = $null
        $err = $null
        try { $id = New-KrTask -Language CSharp -Code "var x = 1;`nint y = ;" } catch { $err = $_ }
        $id | Should -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be 'KrTasks.CompileError,New-KrTask'
        $err.CategoryInfo.Category | Should -Be 'ParserError'
        $err.Exception.Message | Should -Match 'CS1525'
        $err.Exception.Message | Should -Match 'line 2'
        $diagnostic = $err.Exception.Data['Diagnostics'][0]
        $diagnostic.Id | Should -Be 'CS1525'
        $diagnostic.Line | Should -Be 2
        $err.TargetObject[0].Id | Should -Be 'CS1525'
        @(Get-KrTask).Count | Should -Be $before
        # VB and PowerShell parse errors alike.
        try { New-KrTask -Language VBNet -Code 'Return (' } catch { $vbErr = $_ }
        $vbErr.CategoryInfo.Category | Should -Be 'ParserError'
        try { New-KrTask -Code '{ unclosed' } catch { $psErr = $_ }
        $psErr.CategoryInfo.Category | Should -Be 'ParserError'
        { New-KrTask -Language CSharp -Code 'int y = ;' -ErrorAction SilentlyContinue } | Should -Throw '*CS1525*'
    }

    It 'gives C# extra imports and references' {
        $id = New-KrTask -Language CSharp -Code 'typeof(PSObject).Name + new StringBuilder("!").ToString()' -ExtraImports 'System.Management.Automation', 'System.Text' -ExtraRefs 'System.Management.Automation' -AutoStart
        (Wait-KrTask -Id $id -Timeout 30).State | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be 'PSObject!'
    }

    It 'stops a task at -TimeoutSeconds' {
        $id = New-KrTask -ScriptBlock { Start-Sleep -Seconds 20 } -TimeoutSeconds 0.5 -AutoStart
        $record = Wait-KrTask -Id $id -Timeout 20
        # A timeout is its own outcome: Failed with a TimeoutException (a cancel gives Stopped).
        $record.State | Should -Be 'Failed'
        $record.Error.Type | Should -Match 'TimeoutException'
        $record.TimeoutSeconds | Should -Be 0.5
    }

    It 'links a child to its -ParentId' {
        $parent = New-KrTask -ScriptBlock { 'parent' }
        $child = New-KrTask -ScriptBlock { 'child' } -ParentId $parent
        (Get-KrTask -Id $child).ParentId | Should -Be $parent
        (Get-KrTask -Id $parent).ChildrenId | Should -Be @($child)
        (Get-KrTask -ParentId $parent).Id | Should -Be @($child)
        # An unknown parent is an invalid field: a hard failure.
        { New-KrTask -ScriptBlock { 1 } -ParentId (New-UnknownId) } | Should -Throw -ErrorId 'KrTasks.InvalidRequest,New-KrTask'
    }

    It 'supports -WhatIf' {
        $before = @(Get-KrTask).Count
        New-KrTask -ScriptBlock { 1 } -WhatIf | Should -BeNullOrEmpty
        @(Get-KrTask).Count | Should -Be $before
    }
}

Describe 'Per-task context: -WorkingDirectory, -Environment, -MaxMemoryMB (process isolation)' {
    BeforeAll {
        $script:Work = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'work dir') -Force
        # A probe of a worker: which process runs it, its directory, and whether it sees the variables the tests set.
        $script:Probe = { "$PID|$PWD|$([bool]$env:KRT_X)|$([bool]$env:KRT_LEAK)|$([bool]$env:KRT_LEAK2)" }

        # Runs probes until one runs in the worker process $WorkerPid (the pool hands out idle workers); its answer.
        function script:Invoke-ProbeOn([int] $WorkerPid) {
            for ($i = 0; $i -lt 30; $i++) {
                $id = Start-KrTask -ScriptBlock $Probe
                Wait-KrTask -Id $id -Timeout 30 | Out-Null
                $answer = Get-KrTaskResult -Id $id
                if ($answer.StartsWith("$WorkerPid|")) { return $answer }
            }
            throw "no probe ran in worker $WorkerPid"
        }
    }

    It 'gives a PowerShell task $PWD and $env: from -WorkingDirectory (relative to this location) and -Environment' {
        Push-Location $TestDrive
        try {
            $id = New-KrTask -AutoStart -WorkingDirectory 'work dir' -Environment @{ KRT_X = 'from the caller'; KRT_N = 5 } -ScriptBlock {
                $PWD.Path; [Environment]::CurrentDirectory; $env:KRT_X; $env:KRT_N; (Get-Item .).FullName
            }
        }
        finally { Pop-Location }
        (Wait-KrTask -Id $id -Timeout 30).State | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be @($Work.FullName, $Work.FullName, 'from the caller', '5', $Work.FullName)
    }

    It 'gives a C# task Environment.CurrentDirectory and its variables (one-shot Start-KrTask too)' {
        $code = 'return Environment.CurrentDirectory + "|" + Environment.GetEnvironmentVariable("KRT_Y") + "|" + File.Exists("marker.txt");'
        Set-Content -Path (Join-Path $Work 'marker.txt') -Value 'x'
        $id = Start-KrTask -Language CSharp -Code $code -WorkingDirectory $Work.FullName -Environment @{ KRT_Y = 'for C#' }
        (Wait-KrTask -Id $id -Timeout 30).State | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -BeExactly "$($Work.FullName)|for C#|True"
    }

    It 'leaves nothing behind for the next task on the same worker: variables, directory, what the task changed' {
        $first = Start-KrTask -ScriptBlock $Probe
        Wait-KrTask -Id $first -Timeout 30 | Out-Null
        $default = (Get-KrTaskResult -Id $first).Split('|')[1]
        $default | Should -Not -Be $Work.FullName
        $ps = Start-KrTask -WorkingDirectory $Work.FullName -Environment @{ KRT_X = '1' } -ScriptBlock {
            $env:KRT_LEAK = 'leaked'; Set-Location /; $PID
        }
        Wait-KrTask -Id $ps -Timeout 30 | Out-Null
        Invoke-ProbeOn (Get-KrTaskResult -Id $ps) | Should -BeLike "*|$default|False|False|False"
        $cs = Start-KrTask -Language CSharp -WorkingDirectory $Work.FullName -Environment @{ KRT_X = '1' } `
            -Code 'Environment.SetEnvironmentVariable("KRT_LEAK2", "leaked"); Directory.SetCurrentDirectory("/"); return Environment.ProcessId;'
        Wait-KrTask -Id $cs -Timeout 30 | Out-Null
        Invoke-ProbeOn (Get-KrTaskResult -Id $cs) | Should -BeLike "*|$default|False|False|False"
    }

    It 'kills a task above -MaxMemoryMB: Failed with MemoryLimitExceeded, and the daemon carries on' {
        $id = New-KrTask -MaxMemoryMB 400 -AutoStart -ScriptBlock {
            $chunks = [System.Collections.Generic.List[byte[]]]::new()
            1..2048 | ForEach-Object { $chunks.Add([byte[]]::new(1MB)); [Array]::Fill($chunks[-1], [byte]1) }
            'survived'
        }
        $record = Wait-KrTask -Id $id -Timeout 60
        $record.State | Should -Be 'Failed'
        $record.Error.Type | Should -Be 'MemoryLimitExceeded'
        $record.Error.Message | Should -Match 'MaxMemoryMB of 400 MB'
        Get-KrTaskResult -Id $id | Should -BeNullOrEmpty
        $after = Start-KrTask -ScriptBlock { 'still here' } -MaxMemoryMB 400
        Wait-KrTask -Id $after -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $after | Should -Be 'still here'
        { New-KrTask -ScriptBlock { 1 } -MaxMemoryMB 63 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,New-KrTask'
    }

    It 'refuses a -WorkingDirectory that does not exist: a terminating error naming the field, and no task' {
        $before = @(Get-KrTask).Count
        $missing = Join-Path $TestDrive 'no such dir'
        { New-KrTask -ScriptBlock { 1 } -WorkingDirectory $missing -ErrorAction SilentlyContinue } |
            Should -Throw -ErrorId 'KrTasks.InvalidRequest,New-KrTask'
        $err = $null
        try { Start-KrTask -ScriptBlock { 1 } -WorkingDirectory $missing } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'KrTasks.InvalidRequest,New-KrTask'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.Exception.Message | Should -Match 'WorkingDirectory'
        $err.Exception.Data['Problem'].field | Should -Be 'WorkingDirectory'
        # A path of another provider never reaches the daemon: the same error.
        $err = $null
        try { New-KrTask -ScriptBlock { 1 } -WorkingDirectory 'Env:\PATH' } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'KrTasks.InvalidRequest,New-KrTask'
        $err.Exception.Message | Should -Match 'WorkingDirectory'
        @(Get-KrTask).Count | Should -Be $before
    }

    It 'is refused with an error naming the field by a daemon with --isolation thread' {
        $dir = Join-Path $TestDrive 'thread-daemon'
        $cli = Join-Path $Root '.venv/bin/krtasks'
        $process = Start-Process -FilePath $cli -ArgumentList 'serve', '--isolation', 'thread', '--state-dir', $dir, '--port', '0' -PassThru `
            -RedirectStandardOutput (Join-Path $TestDrive 'thread.out') -RedirectStandardError (Join-Path $TestDrive 'thread.err')
        try {
            Wait-Until { Test-Path (Join-Path $dir 'daemon.json') } 60 | Should -BeTrue
            $thread = Add-KrTasks -StateDir $dir -PassThru
            $fields = @{ MaxMemoryMB = @{ MaxMemoryMB = 300 }; WorkingDirectory = @{ WorkingDirectory = $Work.FullName }; Environment = @{ Environment = @{ A = '1' } } }
            foreach ($field in $fields.Keys) {
                $splat = $fields[$field]
                $err = $null
                try { New-KrTask -ScriptBlock { 1 } -Connection $thread @splat } catch { $err = $_ }
                $err.FullyQualifiedErrorId | Should -Be 'KrTasks.InvalidRequest,New-KrTask' -Because $field
                $err.Exception.Message | Should -Match $field
                $err.Exception.Message | Should -Match 'process isolation'
            }
            # Without them, and over CliXml, the thread daemon runs tasks as before.
            $id = New-KrTask -ScriptBlock { param($when) $when.Year } -Arguments @{ when = [datetime]'2030-01-01' } -AutoStart -Connection $thread
            Wait-KrTask -Id $id -Timeout 30 -Connection $thread | Out-Null
            Get-KrTaskResult -Id $id -Connection $thread | Should -Be 2030
            Stop-KrTasksDaemon -Connection $thread -Force -Confirm:$false
            $process.WaitForExit(30000) | Should -BeTrue
        }
        finally {
            if (-not $process.HasExited) { $process.Kill() }
            Reset-Default
        }
    }
}

Describe 'Start-KrTask' {
    It 'starts a task: $true, then $false with an error for a second start' {
        $id = New-KrTask -ScriptBlock { 'started' }
        $first = Start-KrTask -Id $id
        $first | Should -BeOfType [bool]
        $first | Should -BeTrue
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Start-KrTask -Id $id -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeFalse
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].Exception.Message | Should -Match 'NotStarted'
    }

    It 'takes ids from the pipeline, as strings and as records' {
        $a = New-KrTask -ScriptBlock { 'a' }
        $b = New-KrTask -ScriptBlock { 'b' }
        $a | Start-KrTask | Should -Be @($true)
        Get-KrTask -Id $b | Start-KrTask | Should -Be @($true)
        $a, $b | Wait-KrTask -Timeout 30 | Should -HaveCount 2
    }

    It 'positional -Id works too' {
        $id = New-KrTask -ScriptBlock { 'p' }
        Start-KrTask $id | Should -BeTrue
    }

    It 'creates and starts in one go from a script block, code or a file (returning the id)' {
        $sb = Start-KrTask { param($n) $n + 1 } -Arguments @{ n = 1 } -Name 'one-shot'
        $code = Start-KrTask -Code '21 * 2' -Language CSharp
        Set-Content -Path (Join-Path $TestDrive 'oneshot.vb') -Value 'Return 7'
        $file = Start-KrTask -CodeFilePath (Join-Path $TestDrive 'oneshot.vb')
        $given = Start-KrTask -ScriptBlock { 'given id' } -Id "oneshot-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
        $record = Start-KrTask -ScriptBlock { 'passthru' } -PassThru
        foreach ($id in $sb, $code, $file, $given) { $id | Should -BeOfType [string] }
        $given | Should -BeLike 'oneshot-*'
        $record.PSObject.TypeNames[0] | Should -Be 'KrTasks.Task'
        $record.State | Should -BeIn 'Queued', 'Running', 'Completed'
        Wait-KrTask -Id $sb, $code, $file, $given, $record.Id -Timeout 30 | Should -HaveCount 5
        Get-KrTaskResult -Id $sb | Should -Be 2
        (Get-KrTask -Id $sb).Name | Should -Be 'one-shot'
        Get-KrTaskResult -Id $code | Should -Be 42
        Get-KrTaskResult -Id $file | Should -Be 7
    }

    It 'takes blank one-shot values as New-KrTask does: empty code, blank name and description' {
        $id = Start-KrTask -Code '' -Language CSharp -Name '' -Description $null
        (Wait-KrTask -Id $id -Timeout 30).State | Should -Be 'Completed'
        $null -eq (Get-KrTaskResult -Id $id) | Should -BeTrue
        (Get-KrTask -Id $id).Name | Should -Be "Task $id"
    }

    It 'supports -WhatIf' {
        $id = New-KrTask -ScriptBlock { 1 }
        Start-KrTask -Id $id -WhatIf | Should -BeNullOrEmpty
        Get-KrTaskState -Id $id | Should -Be 'NotStarted'
        Start-KrTask -ScriptBlock { 1 } -WhatIf | Should -BeNullOrEmpty
    }

    It 'queues tasks beyond -MaxRunspaces' {
        $ids = 1..6 | ForEach-Object { Start-KrTask -ScriptBlock { Start-Sleep -Milliseconds 800 } }
        $states = Get-KrTask -Id $ids | ForEach-Object State
        $states | Where-Object { $_ -eq 'Queued' } | Should -Not -BeNullOrEmpty
        $expected = @('Completed') * 6
        (Wait-KrTask -Id $ids -Timeout 30).State | Should -Be $expected
    }
}

Describe 'Get-KrTask' {
    BeforeAll {
        $script:Tag = [guid]::NewGuid().ToString('N').Substring(0, 8)
        $script:Done = Start-KrTask -ScriptBlock { 'done' } -Name "list-$Tag-done"
        $script:Idle = New-KrTask -ScriptBlock { 'idle' } -Name "list-$Tag-idle"
        $script:CSharp = New-KrTask -Language CSharp -Code '1' -Name "list-$Tag-cs"
        Wait-KrTask -Id $Done -Timeout 30 | Out-Null
    }

    It 'lists every task, newest first, as KrTasks.Task records' {
        $all = @(Get-KrTask)
        $all.Count | Should -BeGreaterOrEqual 3
        $all[0].PSObject.TypeNames[0] | Should -Be 'KrTasks.Task'
        $created = $all | ForEach-Object CreatedAt
        $created | Should -Be ($created | Sort-Object -Descending)
    }

    It 'gives dates as UTC [DateTimeOffset], Duration as [timespan] and the progress' {
        $record = Get-KrTask -Id $Done
        $record.CreatedAt | Should -BeOfType [System.DateTimeOffset]
        $record.StartedAt.Offset | Should -Be ([timespan]::Zero)
        $record.CompletedAt | Should -BeGreaterOrEqual $record.StartedAt
        $record.Duration | Should -BeOfType [timespan]
        $record.Duration | Should -Be ($record.CompletedAt - $record.StartedAt)
        $record.Progress.PercentComplete | Should -Be 100
        $record.Progress.PSObject.TypeNames[0] | Should -Be 'KrTasks.TaskProgress'
        $record.StateText | Should -Be 'Completed'
        $record.ParentId | Should -Be ''
        , $record.ChildrenId | Should -BeOfType [string[]]
        (Get-KrTask -Id $Idle).StartedAt | Should -BeNullOrEmpty
        (Get-KrTask -Id $Idle).Duration | Should -BeNullOrEmpty
    }

    It 'shows records in the table view' {
        $table = Get-KrTask -Id $Done | Format-Table | Out-String -Width 200
        $table | Should -Match 'Id\s+Name\s+Language\s+StateText\s+Progress %\s+Duration'
        $table | Should -Match "$Done\s+list-$Tag-done\s+PowerShell\s+Completed\s+100\s+\d\d:\d\d:\d\d\.\d{3}"
    }

    It 'returns the state alone with -Id -State' {
        Get-KrTask -Id $Done -State | Should -Be 'Completed'
        Get-KrTask -Id $Idle -State | Should -Be 'NotStarted'
    }

    It 'filters by -Name (wildcards), -StateFilter and -Language' {
        (Get-KrTask -Name "list-$Tag-*").Id | Sort-Object | Should -Be (@($Done, $Idle, $CSharp) | Sort-Object)
        (Get-KrTask -Name "LIST-$Tag-D?NE").Id | Should -Be $Done
        (Get-KrTask -Name "list-$Tag-*" -StateFilter Completed).Id | Should -Be $Done
        (Get-KrTask -Name "list-$Tag-*" -StateFilter Completed, NotStarted).Id | Sort-Object | Should -Be (@($Done, $Idle, $CSharp) | Sort-Object)
        (Get-KrTask -Name "list-$Tag-*" -Language CSharp).Id | Should -Be $CSharp
        (Get-KrTask -Name "list-$Tag-*" -Language CSharp, PowerShell -StateFilter NotStarted).Id | Sort-Object | Should -Be (@($Idle, $CSharp) | Sort-Object)
        Get-KrTask -Name "nothing-$Tag" | Should -BeNullOrEmpty
    }

    It 'takes ids from the pipeline by value and by property name' {
        ($Done, $Idle | Get-KrTask).Id | Should -Be @($Done, $Idle)
        ([pscustomobject]@{ Id = $CSharp } | Get-KrTask).Id | Should -Be $CSharp
    }

    It 'completes -Id with the daemon''s task ids and names' {
        $prefix = $Done.Substring(0, 10)
        $line = "Get-KrTask -Id $prefix"
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches
        $match = $completions | Where-Object CompletionText -EQ $Done
        $match | Should -Not -BeNullOrEmpty
        $match.ListItemText | Should -Be "$Done (list-$Tag-done)"
        $match.ToolTip | Should -Match 'Completed'
        # Typing part of the name finds it as well.
        $line = "Stop-KrTask -Id list-$Tag-id"
        ((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches).CompletionText | Should -Be $Idle
    }
}

Describe 'Get-KrTaskResult and Get-KrTaskState' {
    It 'gives no result (and no error) until the task has finished, then the raw output' {
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Milliseconds 700; 'one'; 2; [pscustomobject]@{ Three = 3 } }
        Get-KrTaskResult -Id $id -ErrorVariable err | Should -BeNullOrEmpty
        $err | Should -BeNullOrEmpty
        Get-KrTaskState -Id $id | Should -BeIn 'Queued', 'Running'
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        $result = Get-KrTaskResult -Id $id
        $result | Should -HaveCount 3
        $result[0] | Should -Be 'one'
        $result[1] | Should -Be 2
        $result[2].Three | Should -Be 3
        Get-KrTaskState -Id $id | Should -Be 'Completed'
        # The result is not consumed.
        Get-KrTaskResult -Id $id | Should -HaveCount 3
    }

    It 'gives the states Failed and Stopped' {
        $failed = Start-KrTask -ScriptBlock { throw 'broken' }
        $stopped = New-KrTask -ScriptBlock { 1 }
        Stop-KrTask -Id $stopped | Should -BeTrue
        Wait-KrTask -Id $failed -Timeout 30 | Out-Null
        Get-KrTaskState -Id $failed | Should -Be 'Failed'
        (Get-KrTask -Id $failed).Error.Message | Should -Be 'broken'
        Get-KrTaskState -Id $stopped | Should -Be 'Stopped'
    }
}

Describe 'Stop-KrTask' {
    It 'cancels a running task ($true) and it ends Stopped' {
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        Wait-Until { (Get-KrTaskState -Id $id) -eq 'Running' } | Should -BeTrue
        $stopped = Stop-KrTask -Id $id
        $stopped | Should -BeOfType [bool]
        $stopped | Should -BeTrue
        (Wait-KrTask -Id $id -Timeout 20).State | Should -Be 'Stopped'
    }

    It 'cancels a C# task through its CancellationToken' {
        $id = Start-KrTask -Language CSharp -Code 'await Task.Delay(30000, CancellationToken); return 1;'
        Wait-Until { (Get-KrTaskState -Id $id) -eq 'Running' } | Should -BeTrue
        Stop-KrTask -Id $id | Should -BeTrue
        (Wait-KrTask -Id $id -Timeout 20).State | Should -Be 'Stopped'
    }

    It 'returns $false without an error for a finished task' {
        $id = Start-KrTask -ScriptBlock { 1 }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Stop-KrTask -Id $id -ErrorVariable err | Should -BeFalse
        $err | Should -BeNullOrEmpty
    }

    It 'supports -WhatIf and pipeline input' {
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        Get-KrTask -Id $id | Stop-KrTask -WhatIf | Should -BeNullOrEmpty
        Get-KrTaskState -Id $id | Should -BeIn 'Queued', 'Running'
        Get-KrTask -Id $id | Stop-KrTask | Should -BeTrue
        (Wait-KrTask -Id $id -Timeout 20).State | Should -Be 'Stopped'
    }
}

Describe 'Remove-KrTask' {
    It 'removes a finished task ($true)' {
        $id = Start-KrTask -ScriptBlock { 1 }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        $removed = Remove-KrTask -Id $id
        $removed | Should -BeOfType [bool]
        $removed | Should -BeTrue
        Get-KrTask -Id $id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'refuses a running task ($false and an error) unless -Force' {
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        Remove-KrTask -Id $id -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeFalse
        $err[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $err[0].ErrorDetails.RecommendedAction | Should -Match '-Force'
        Get-KrTaskState -Id $id | Should -BeIn 'Queued', 'Running'
        Remove-KrTask -Id $id -Force | Should -BeTrue
        Get-KrTask -Id $id -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'supports -WhatIf' {
        $id = New-KrTask -ScriptBlock { 1 }
        Remove-KrTask -Id $id -WhatIf | Should -BeNullOrEmpty
        Get-KrTaskState -Id $id | Should -Be 'NotStarted'
    }

    It 'removes the children with the parent' {
        $parent = New-KrTask -ScriptBlock { 'parent' }
        $child = New-KrTask -ScriptBlock { 'child' } -ParentId $parent
        Remove-KrTask -Id $parent | Should -BeTrue
        Get-KrTask -Id $child -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'removes what Get-KrTask -StateFilter Completed pipes to it' {
        $ids = 1..3 | ForEach-Object { Start-KrTask -ScriptBlock { 'bulk' } }
        Wait-KrTask -Id $ids -Timeout 30 | Out-Null
        $running = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        $results = Get-KrTask -StateFilter Completed | Remove-KrTask
        $results | Should -Not -Contain $false
        Get-KrTask -StateFilter Completed | Should -BeNullOrEmpty
        Get-KrTaskState -Id $running | Should -BeIn 'Queued', 'Running'
        Remove-KrTask -Id $running -Force | Should -BeTrue
    }
}

Describe 'Set-KrTaskName' {
    It 'sets the name and the description, one $true per field' {
        $id = New-KrTask -ScriptBlock { 1 }
        $result = Set-KrTaskName -Id $id -Name 'renamed' -Description 'new text'
        $result | Should -Be @($true, $true)
        $record = Get-KrTask -Id $id
        $record.Name | Should -Be 'renamed'
        $record.Description | Should -Be 'new text'
        Set-KrTaskName -Id $id -Description 'only this' | Should -Be @($true)
        (Get-KrTask -Id $id).Name | Should -Be 'renamed'
        Get-KrTask -Id $id | Set-KrTaskName -Name 'piped' | Should -Be @($true)
        (Get-KrTask -Id $id).Name | Should -Be 'piped'
    }

    It 'refuses blank values and a call without -Name or -Description' {
        $id = New-KrTask -ScriptBlock { 1 }
        { Set-KrTaskName -Id $id -Name ' ' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Set-KrTaskName'
        { Set-KrTaskName -Id $id } | Should -Throw -ErrorId 'KrTasks.NothingToSet,Set-KrTaskName'
    }

    It 'supports -WhatIf' {
        $id = New-KrTask -ScriptBlock { 1 } -Name 'kept'
        Set-KrTaskName -Id $id -Name 'changed' -WhatIf | Should -BeNullOrEmpty
        (Get-KrTask -Id $id).Name | Should -Be 'kept'
    }
}

Describe 'Wait-KrTask' {
    It 'returns the record when the task finishes, without busy polling' {
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Milliseconds 2000; 'waited' }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $record = Wait-KrTask -Id $id
        $watch.Stop()
        $record.Id | Should -Be $id
        $record.State | Should -Be 'Completed'
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        # The daemon holds each /wait for about a second: a handful of requests, not hundreds.
        $polls = @(Select-String -Path (Join-Path $StateDir 'daemon.log') -SimpleMatch "/tasks/$id/wait").Count
        $polls | Should -BeGreaterThan 0
        $polls | Should -BeLessOrEqual 5
    }

    It 'returns nothing at -Timeout and leaves the task running' {
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        Wait-KrTask -Id $id -Timeout 1 | Should -BeNullOrEmpty
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 3
        Get-KrTaskState -Id $id | Should -BeIn 'Queued', 'Running'
        Stop-KrTask -Id $id | Should -BeTrue
    }

    It 'checks once and returns at once with -Timeout 0' {
        $done = Start-KrTask -ScriptBlock { 'done' }
        Wait-KrTask -Id $done -Timeout 30 | Out-Null
        $slow = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        (Wait-KrTask -Id $done, $slow -Timeout 0).Id | Should -Be $done
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 1
        Stop-KrTask -Id $slow | Out-Null
    }

    It 'returns what finished by -Timeout and leaves the rest running' {
        $quick = Start-KrTask -ScriptBlock { 'quick' }
        $slow = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        $records = Wait-KrTask -Id $quick, $slow -Timeout 2
        $records.Id | Should -Be $quick
        Get-KrTaskState -Id $slow | Should -BeIn 'Queued', 'Running'
        Stop-KrTask -Id $slow | Out-Null
    }

    It 'returns at the first finished task with -Any' {
        $slow = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        $quick = Start-KrTask -ScriptBlock { Start-Sleep -Milliseconds 300 }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $records = $slow, $quick | Wait-KrTask -Any -Timeout 20
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        $records.Id | Should -Be $quick
        Stop-KrTask -Id $slow | Out-Null
    }

    It 'shows the task''s progress with Write-Progress while waiting' {
        Mock -ModuleName KrTasks Write-Progress {}
        $id = Start-KrTask -ScriptBlock {
            foreach ($i in 1..4) {
                $TaskProgress.PercentComplete = $i * 20
                $TaskProgress.StatusMessage = "Step $i of 4"
                Start-Sleep -Milliseconds 600
            }
        } -Name 'progress demo'
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Should -Invoke -ModuleName KrTasks Write-Progress -ParameterFilter {
            $PercentComplete -ge 20 -and $PercentComplete -lt 100 -and $Status -match 'Step \d of 4' -and $Activity -match 'progress demo'
        } -Scope It
        Should -Invoke -ModuleName KrTasks Write-Progress -ParameterFilter { $Completed } -Scope It
    }

    It 'stops promptly on Ctrl+C (a pipeline stop) and leaves the task running' {
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($Manifest, $StateDir, $Id)
                    Import-Module $Manifest
                    Add-KrTasks -StateDir $StateDir
                    Wait-KrTask -Id $Id
                }).AddParameters(@{ Manifest = (Join-Path $Root 'module/KrTasks.psd1'); StateDir = $StateDir; Id = $id })
            $async = $ps.BeginInvoke()
            Wait-Until { (Select-String -Path (Join-Path $StateDir 'daemon.log') -SimpleMatch "/tasks/$id/wait") } | Should -BeTrue
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 1.5
            $async.IsCompleted | Should -BeTrue
        }
        finally { $ps.Dispose() }
        Get-KrTaskState -Id $id | Should -Be 'Running'
        Stop-KrTask -Id $id | Should -BeTrue
    }

    It 'takes records from Get-KrTask' {
        $id = Start-KrTask -ScriptBlock { 1 }
        (Get-KrTask -Id $id | Wait-KrTask -Timeout 30).Id | Should -Be $id
    }
}

Describe 'Receive-KrTask' {
    BeforeAll {
        $script:Noisy = Start-KrTask -ScriptBlock {
            $VerbosePreference = 'Continue'; $DebugPreference = 'Continue'
            Write-Warning 'a warning'
            Write-Verbose 'a verbose line'
            Write-Debug 'a debug line'
            Write-Information 'an information'
            Write-Host 'a host line'
            Write-Error 'an error'
            'output 1'
            'output 2'
        }
        Wait-KrTask -Id $Noisy -Timeout 30 | Out-Null
    }

    It 'writes each stream record to the matching stream, then the output' {
        $output = Receive-KrTask -Id $Noisy -Keep -Verbose -Debug -ErrorVariable errs -WarningVariable warns -InformationVariable infos -ErrorAction SilentlyContinue -WarningAction SilentlyContinue 4>&1 5>&1
        $verbose = $output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $debug = $output | Where-Object { $_ -is [System.Management.Automation.DebugRecord] }
        $plain = $output | Where-Object { $_ -is [string] }
        $plain | Should -Be @('output 1', 'output 2')
        "$warns" | Should -Be 'a warning'
        $verbose.Message | Should -Be 'a verbose line'
        $debug.Message | Should -Be 'a debug line'
        $infos.MessageData | Should -Be @('an information', 'a host line')
        $errs | Should -HaveCount 1
        $errs[0].Exception.Message | Should -Be 'an error'
        $errs[0].TargetObject | Should -Be $Noisy
    }

    It 'consumes what it received unless -Keep (as Receive-Job)' {
        Receive-KrTask -Id $Noisy -Keep -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -HaveCount 2
        Receive-KrTask -Id $Noisy -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -HaveCount 2
        Receive-KrTask -Id $Noisy -ErrorVariable again -WarningVariable againWarn | Should -BeNullOrEmpty
        $again | Should -BeNullOrEmpty
        $againWarn | Should -BeNullOrEmpty
        Receive-KrTask -Id $Noisy -Keep -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -HaveCount 2
    }

    It 'writes a failed task''s exception as an error with its category' {
        $id = Start-KrTask -ScriptBlock { 'before'; throw [System.IO.FileNotFoundException]::new('no such file') }
        $output = Receive-KrTask -Id $id -Wait -ErrorVariable errs -ErrorAction SilentlyContinue
        $output | Should -Be 'before'
        $errs[-1].Exception.Message | Should -Match 'no such file'
        $errs[-1].FullyQualifiedErrorId | Should -BeLike 'KrTasks.TaskFailed*'
    }

    It 'gives the records so far and no output for a running task; -Wait waits for the end' {
        $id = Start-KrTask -ScriptBlock { Write-Warning 'early'; Start-Sleep -Seconds 4; Write-Warning 'late'; 'final' }
        # Records reach the daemon with the worker's next step report: on a loaded machine that can take a
        # while, so receive until the first one is there (each Receive-KrTask gives only what is new).
        $w1 = @()
        $deadline = [datetime]::UtcNow.AddSeconds(3)
        while (-not $w1 -and [datetime]::UtcNow -lt $deadline) {
            Receive-KrTask -Id $id -WarningVariable w -WarningAction SilentlyContinue | Should -BeNullOrEmpty
            $w1 += $w
            Start-Sleep -Milliseconds 100
        }
        "$w1" | Should -Be 'early'
        Receive-KrTask -Id $id -Wait -WarningVariable w2 -WarningAction SilentlyContinue | Should -Be 'final'
        "$w2" | Should -Be 'late'
    }

    It 'returns a C# task''s value' {
        $id = Start-KrTask -Language CSharp -Code 'new[] { 1, 2, 3 }.Sum()'
        Receive-KrTask -Id $id -Wait | Should -Be 6
    }

    It 'starts over when the id now names another task (removed elsewhere, id reused)' {
        # Regression: what was received was remembered by id alone, so the new task's records and output
        # were taken as already received when its predecessor had been removed with its parent.
        $parent = Start-KrTask -ScriptBlock { 'parent' }
        $child = "reused-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        New-KrTask -Id $child -ParentId $parent -ScriptBlock { Write-Warning 'first'; 'one' } -AutoStart | Out-Null
        Wait-KrTask -Id $parent, $child -Timeout 30 | Out-Null
        Receive-KrTask -Id $child -WarningAction SilentlyContinue | Should -Be 'one'
        Remove-KrTask -Id $parent | Should -BeTrue
        New-KrTask -Id $child -ScriptBlock { Write-Warning 'second'; 'two' } -AutoStart | Out-Null
        Wait-KrTask -Id $child -Timeout 30 | Out-Null
        Receive-KrTask -Id $child -WarningVariable w -WarningAction SilentlyContinue | Should -Be 'two'
        "$w" | Should -Be 'second'
    }
}

Describe 'Unknown ids' {
    It '<Command> writes ObjectNotFound naming the id (given -ErrorAction) and outputs <Expected>' -ForEach @(
        @{ Command = 'Get-KrTask'; Expected = '$null'; Extra = @{} }
        @{ Command = 'Get-KrTaskResult'; Expected = '$null'; Extra = @{} }
        @{ Command = 'Get-KrTaskState'; Expected = '$null'; Extra = @{} }
        @{ Command = 'Start-KrTask'; Expected = '$false'; Extra = @{} }
        @{ Command = 'Stop-KrTask'; Expected = '$false'; Extra = @{} }
        @{ Command = 'Remove-KrTask'; Expected = '$false'; Extra = @{} }
        @{ Command = 'Set-KrTaskName'; Expected = '$false'; Extra = @{ Name = 'x' } }
        @{ Command = 'Wait-KrTask'; Expected = '$null'; Extra = @{ Timeout = 5 } }
        @{ Command = 'Receive-KrTask'; Expected = '$null'; Extra = @{} }
    ) {
        $id = New-UnknownId
        $output = & $Command -Id $id @Extra -ErrorVariable err -ErrorAction SilentlyContinue
        if ($Expected -eq '$false') { $output | Should -Be @($false) } else { $output | Should -BeNullOrEmpty }
        $err | Should -HaveCount 1
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].FullyQualifiedErrorId | Should -Be "KrTasks.TaskNotFound,$Command"
        $err[0].TargetObject | Should -Be $id
        $err[0].Exception.Message | Should -Match $id
    }

    It 'keeps going through the pipeline after an unknown id' {
        $known = New-KrTask -ScriptBlock { 1 }
        $states = (New-UnknownId), $known | Get-KrTaskState -ErrorAction SilentlyContinue
        $states | Should -Be 'NotStarted'
    }
}

Describe 'The Kestrun tutorial flow with Kestrun''s return values' {
    It 'creates, starts, follows, reads, cancels, removes and lists as Kestrun scripts do' {
        $ps = New-KrTask -ScriptBlock {
            for ($i = 1; $i -le $sec; $i++) {
                $TaskProgress.StatusMessage = "Sleeping ($i/$sec)"
                $TaskProgress.PercentComplete = [int](($i - 1) * 100 / $sec)
                Start-Sleep -Milliseconds 300
            }
            $TaskProgress.Complete('Completed')
            'PS task done at ' + (Get-Date).ToString('o')
        } -Arguments @{ sec = 2 }
        $cs = New-KrTask -Language CSharp -Code @'
for (int i = 1; i <= 5; i++) { TaskProgress.StatusMessage = $"Working {i}/5"; await Task.Delay(total / 5); }
return "CS task done at " + DateTime.UtcNow.ToString("o");
'@ -Arguments @{ total = 500 }
        $ps | Should -Match '^[0-9a-f]{32}$'
        Get-KrTaskResult -Id $ps | Should -BeNullOrEmpty
        Start-KrTask -Id $ps | Should -BeTrue
        Start-KrTask -Id $cs | Should -BeTrue
        Start-KrTask -Id $ps -ErrorAction SilentlyContinue | Should -BeFalse
        Get-KrTask -Id $ps -State | Should -BeIn 'Queued', 'Running'
        Wait-KrTask -Id $ps, $cs -Timeout 30 | Should -HaveCount 2
        Get-KrTaskState -Id $ps | Should -Be 'Completed'
        (Get-KrTask -Id $ps).Progress.StatusMessage | Should -Be 'Completed'
        Get-KrTaskResult -Id $ps | Should -BeLike 'PS task done at *'
        Get-KrTaskResult -Id $cs | Should -BeLike 'CS task done at *'
        Stop-KrTask -Id $ps | Should -BeFalse
        $long = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        Stop-KrTask -Id $long | Should -BeTrue
        (Get-KrTask).Id | Should -Contain $ps
        Remove-KrTask -Id $ps | Should -BeTrue
        Remove-KrTask -Id $cs | Should -BeTrue
        Get-KrTask -Id $ps -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-KrTaskState -Id $ps -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
