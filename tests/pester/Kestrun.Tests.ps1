# Scripts written as a Kestrun user writes them, against a real daemon (issue 12): under
# $ErrorActionPreference = 'Stop', with try/catch, testing results for $null/$false and comparing states as
# strings and as numbers. Add-KrTasksService starts a daemon for a temporary state dir on a free port
# (BeforeAll); Stop-KrTasksDaemon stops it (AfterAll). The tutorial routes get a `krtasks demo` of their own.
#
# The preference is set globally (Use-Preference): a script module's functions see the global
# $ErrorActionPreference, not the one of the script that calls them, so only a global 'Stop' turns an
# error record a cmdlet writes into a stop, as it does for an interactive session or a profile's setting.

BeforeAll {
    $script:Root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    Import-Module (Join-Path $Root 'module/KrTasks.psd1') -Force
    $script:StateDir = Join-Path ([System.IO.Path]::GetTempPath()) "krtasks-kestrun-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
    # Two slots, so that a third task queues.
    $script:Server = Add-KrTasksService -StateDir $StateDir -Port 0 -MaxRunspaces 2 -PassThru

    function script:Wait-Until([scriptblock] $Condition, [double] $Seconds = 20) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        do {
            $value = & $Condition
            if ($value) { return $value }
            Start-Sleep -Milliseconds 50
        } while ($watch.Elapsed.TotalSeconds -lt $Seconds)
        $value
    }

    # Kestrun has no Wait cmdlet: its scripts poll the state.
    function script:Wait-Finished([string] $Id, [double] $Seconds = 30) {
        Wait-Until { (Get-KrTaskState -Id $Id) -in 'Completed', 'Failed', 'Stopped' } $Seconds | Out-Null
        Get-KrTaskState -Id $Id
    }

    $script:SavedPreference = $global:ErrorActionPreference
    function script:Use-Preference([string] $Value) {
        $global:ErrorActionPreference = $Value
        Set-Variable -Name ErrorActionPreference -Value $Value -Scope 1
    }

    function script:New-UnknownId { "missing-$([guid]::NewGuid().ToString('N').Substring(0, 8))" }

    # A port nothing listens on.
    function script:Get-ClosedPort {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        $port
    }
}

AfterAll {
    $global:ErrorActionPreference = $SavedPreference
    # -Force: a test re-imports the module, and the new instance does not know it started this daemon.
    if ($script:Server) { Stop-KrTasksDaemon -Connection $Server -Force -Confirm:$false }
    Remove-Module KrTasks -Force -ErrorAction SilentlyContinue
    if ($script:StateDir -and (Test-Path $StateDir)) { Remove-Item -Recurse -Force $StateDir }
}

Describe 'Soft failures are silent, as in Kestrun (point 1)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'runs these tests as a Kestrun script does, under $ErrorActionPreference = Stop' {
        $ErrorActionPreference | Should -Be 'Stop'
        # A module cmdlet's error record does stop here (what the silent soft failures must avoid).
        { Wait-KrTask -Id (New-UnknownId) } | Should -Throw -ErrorId 'KrTasks.TaskNotFound,Wait-KrTask'
    }

    It '<Command> of an unknown id gives <Expected>, writes no error and keeps the script running' -ForEach @(
        @{ Command = 'Get-KrTask'; Expected = '$null'; Extra = @{} }
        @{ Command = 'Get-KrTaskState'; Expected = '$null'; Extra = @{} }
        @{ Command = 'Get-KrTaskResult'; Expected = '$null'; Extra = @{} }
        @{ Command = 'Start-KrTask'; Expected = '$false'; Extra = @{} }
        @{ Command = 'Stop-KrTask'; Expected = '$false'; Extra = @{} }
        @{ Command = 'Remove-KrTask'; Expected = '$false'; Extra = @{} }
        @{ Command = 'Set-KrTaskName'; Expected = '$false'; Extra = @{ Name = 'x' } }
    ) {
        $id = New-UnknownId
        # An error record would stop this script here ($ErrorActionPreference = 'Stop').
        $result = & $Command -Id $id @Extra -ErrorVariable errs
        $errs | Should -BeNullOrEmpty
        if ($Expected -eq '$false') {
            $result | Should -BeOfType [bool]
            $result | Should -BeFalse
        }
        else {
            $null -eq $result | Should -BeTrue
        }
    }

    It '<Command> says why with Write-Verbose' -ForEach @(
        @{ Command = 'Get-KrTask' }, @{ Command = 'Get-KrTaskState' }, @{ Command = 'Get-KrTaskResult' }
        @{ Command = 'Start-KrTask' }, @{ Command = 'Stop-KrTask' }, @{ Command = 'Remove-KrTask' }
    ) {
        $id = New-UnknownId
        $verbose = & $Command -Id $id -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -join "`n") | Should -Match ([regex]::Escape($id))
    }

    It 'Start-KrTask of a task that is not NotStarted gives $false and no error' {
        $id = New-KrTask -ScriptBlock { 'once' } -AutoStart
        Wait-Finished $id | Should -Be 'Completed'
        Start-KrTask -Id $id -ErrorVariable errs | Should -BeFalse
        $errs | Should -BeNullOrEmpty
        $verbose = Start-KrTask -Id $id -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -join "`n") | Should -Match 'only a NotStarted task can start'
    }

    It 'Stop-KrTask of a finished task gives $false and no error, even with -ErrorAction' {
        $id = New-KrTask -ScriptBlock { 1 } -AutoStart
        Wait-Finished $id | Out-Null
        Stop-KrTask -Id $id -ErrorVariable errs | Should -BeFalse
        Stop-KrTask -Id $id -ErrorAction Stop | Should -BeFalse   # as Stop-Job: never an error
        $errs | Should -BeNullOrEmpty
    }

    It 'Remove-KrTask of a running task (or one whose child runs) gives $false and no error' {
        $id = New-KrTask -ScriptBlock { Start-Sleep -Seconds 30 } -AutoStart
        $parent = New-KrTask -ScriptBlock { 'parent' }
        $null = New-KrTask -ScriptBlock { Start-Sleep -Seconds 30 } -ParentId $parent -AutoStart
        Remove-KrTask -Id $id -ErrorVariable errs | Should -BeFalse
        Remove-KrTask -Id $parent -ErrorVariable errs2 | Should -BeFalse
        $errs | Should -BeNullOrEmpty
        $errs2 | Should -BeNullOrEmpty
        Get-KrTaskState -Id $id | Should -BeIn 'Queued', 'Running'
        Remove-KrTask -Id $id -Force | Should -BeTrue
        Remove-KrTask -Id $parent -Force | Should -BeTrue
    }

    It 'an explicit -ErrorAction Stop makes <Command> throw ObjectNotFound, for PowerShell-style callers' -ForEach @(
        @{ Command = 'Get-KrTask'; Extra = @{} }, @{ Command = 'Get-KrTaskState'; Extra = @{} }
        @{ Command = 'Get-KrTaskResult'; Extra = @{} }, @{ Command = 'Start-KrTask'; Extra = @{} }
        @{ Command = 'Stop-KrTask'; Extra = @{} }, @{ Command = 'Remove-KrTask'; Extra = @{} }
        @{ Command = 'Set-KrTaskName'; Extra = @{ Description = 'd' } }
    ) {
        $id = New-UnknownId
        $caught = $null
        try { & $Command -Id $id @Extra -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be "KrTasks.TaskNotFound,$Command"
        $caught.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $caught.TargetObject | Should -Be $id
    }

    It 'an explicit -ErrorAction SilentlyContinue still records the error in -ErrorVariable' {
        Use-Preference 'Continue'
        $id = New-KrTask -ScriptBlock { 1 } -AutoStart
        Wait-Finished $id | Out-Null
        Start-KrTask -Id $id -ErrorAction SilentlyContinue -ErrorVariable wrong | Should -BeFalse
        $wrong[0].FullyQualifiedErrorId | Should -Be 'KrTasks.WrongState,Start-KrTask'
        $running = New-KrTask -ScriptBlock { Start-Sleep -Seconds 30 } -AutoStart
        Remove-KrTask -Id $running -ErrorAction SilentlyContinue -ErrorVariable blocked | Should -BeFalse
        $blocked[0].FullyQualifiedErrorId | Should -Be 'KrTasks.WrongState,Remove-KrTask'
        $blocked[0].ErrorDetails.RecommendedAction | Should -Match '-Force'
        Remove-KrTask -Id $running -Force | Should -BeTrue
    }

    It 'Wait-KrTask and Receive-KrTask (KrTasks'' own, job-style) keep writing errors: <_>' -ForEach 'Wait-KrTask', 'Receive-KrTask' {
        $command = $_
        $caught = $null
        try { & $command -Id (New-UnknownId) } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be "KrTasks.TaskNotFound,$command"
    }

    It 'keeps going through a pipeline of known and unknown ids' {
        $known = New-KrTask -ScriptBlock { 1 }
        $states = @((New-UnknownId), $known, (New-UnknownId) | Get-KrTaskState)
        $states | Should -HaveCount 1
        $states[0] | Should -Be 'NotStarted'
        @((New-UnknownId), $known | Stop-KrTask) | Should -Be @($false, $true)
    }
}

Describe 'Hard failures terminate, whatever $ErrorActionPreference is (point 2)' {
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'try/catch catches a duplicate id under $ErrorActionPreference = <_>' -ForEach 'Continue', 'SilentlyContinue', 'Stop' {
        Use-Preference $_
        $id = "dup-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $null = New-KrTask -Id $id -ScriptBlock { 1 }
        $caught = $null
        $after = $false
        try { New-KrTask -Id $id.ToUpperInvariant() -ScriptBlock { 2 }; $after = $true } catch { $caught = $_ }
        $after | Should -BeFalse
        $caught.FullyQualifiedErrorId | Should -Be 'KrTasks.DuplicateId,New-KrTask'
        $caught.CategoryInfo.Category | Should -Be 'InvalidOperation'
        $caught.Exception.Message | Should -Match 'already exists'
    }

    It 'try/catch catches a <Language> compile error, with the diagnostics in the message and in TargetObject' -ForEach @(
        @{ Language = 'CSharp'; Code = "var a = 1;`nreturn a + nothere;"; DiagnosticId = 'CS0103' }
        @{ Language = 'VBNet'; Code = "Dim a = 1`nReturn a + nothere"; DiagnosticId = 'BC30451' }
        @{ Language = 'PowerShell'; Code = "'ok'`nif (`$true { 'x' }"; DiagnosticId = '' }
    ) {
        Use-Preference 'Continue'
        $caught = $null
        try { New-KrTask -Language $Language -Code $Code } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'KrTasks.CompileError,New-KrTask'
        $caught.CategoryInfo.Category | Should -Be 'ParserError'
        $first = @($caught.TargetObject)[0]
        $first.Line | Should -Be 2
        $first.Severity | Should -Be 'Error'
        if ($DiagnosticId) {
            $first.Id | Should -Be $DiagnosticId
            $caught.Exception.Message | Should -Match $DiagnosticId
        }
        $caught.Exception.Message | Should -Match '\(2,\d+\) Error'
    }

    It 'try/catch catches an invalid field (an argument name no language can use)' {
        Use-Preference 'Ignore'
        $caught = $null
        try { New-KrTask -ScriptBlock { 1 } -Arguments @{ '1bad' = 1 } } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'KrTasks.InvalidRequest,New-KrTask'
        $caught.Exception.Message | Should -Match 'Arguments'
    }

    It 'try/catch catches an id too long for the daemon' {
        Use-Preference 'SilentlyContinue'
        $caught = $null
        try { New-KrTask -Id ('x' * 129) -ScriptBlock { 1 } } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'KrTasks.InvalidRequest,New-KrTask'
    }

    It 'try/catch catches a daemon that does not answer, for <_>' -ForEach 'New-KrTask', 'Get-KrTask', 'Start-KrTask' {
        Use-Preference 'SilentlyContinue'
        $command = $_
        $port = Get-ClosedPort
        $dead = InModuleScope KrTasks -Parameters @{ Port = $port; Cert = (Join-Path $StateDir 'cert.pem') } {
            param($Port, $Cert)
            New-KrTasksConnection -Uri "https://127.0.0.1:$Port" -Token x -CertificatePath $Cert
        }
        $splat = @{ 'New-KrTask' = @{ ScriptBlock = { 1 } }; 'Get-KrTask' = @{}; 'Start-KrTask' = @{ Id = 'any' } }[$command]
        $caught = $null
        try { & $command @splat -Server $dead } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be "KrTasks.DaemonUnreachable,$command"
    }
}

Describe 'Blank values and ids (point 3)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'New-KrTask -Name <Label> gives the default name "Task <id>"' -ForEach @(
        @{ Label = "''"; Value = '' }, @{ Label = '$null'; Value = $null }, @{ Label = "'   '"; Value = '   ' }
    ) {
        $id = New-KrTask -ScriptBlock { 1 } -Name $Value
        (Get-KrTask -Id $id).Name | Should -Be "Task $id"
    }

    It 'New-KrTask -Description '''' gives ""' {
        $task = Get-KrTask -Id (New-KrTask -ScriptBlock { 1 } -Description '')
        $task.Description | Should -BeExactly ''
    }

    It 'New-KrTask -Id <Label> gives a new id' -ForEach @(
        @{ Label = "''"; Value = '' }, @{ Label = '$null'; Value = $null }, @{ Label = "'  '"; Value = '  ' }
    ) {
        $id = New-KrTask -ScriptBlock { 1 } -Id $Value
        $id | Should -Match '^[0-9a-f]{32}$'
    }

    It 'Get-KrTask -Id <Label> gives all tasks' -ForEach @(
        @{ Label = "''"; Value = '' }, @{ Label = '$null'; Value = $null }, @{ Label = "' '"; Value = ' ' }
    ) {
        $mine = New-KrTask -ScriptBlock { 1 }
        $all = @(Get-KrTask -Id $Value)
        $all.Count | Should -BeGreaterThan 1
        $all.Id | Should -Contain $mine
        $all[0].PSObject.TypeNames[0] | Should -Be 'KrTasks.Task'
    }

    It 'Get-KrTask -State without -Id gives all tasks (Kestrun ignores -State there)' {
        $mine = New-KrTask -ScriptBlock { 1 }
        $all = @(Get-KrTask -State)
        $all.Id | Should -Contain $mine
        $all[0].PSObject.TypeNames[0] | Should -Be 'KrTasks.Task'
        Get-KrTask -Id $mine -State | Should -Be 'NotStarted'
    }

    It 'an empty <Label> is a valid task that completes with no output' -ForEach @(
        @{ Label = 'script block'; Splat = @{ ScriptBlock = {} } }
        @{ Label = 'PowerShell code'; Splat = @{ Code = ''; Language = 'PowerShell' } }
        @{ Label = 'C# code'; Splat = @{ Code = ''; Language = 'CSharp' } }
        @{ Label = 'VB code'; Splat = @{ Code = " `n "; Language = 'VBNet' } }
    ) {
        $id = New-KrTask @Splat -AutoStart
        Wait-Finished $id | Should -Be 'Completed'
        $result = Get-KrTaskResult -Id $id
        $null -eq $result | Should -BeTrue
        (Get-KrTask -Id $id).Error | Should -BeNullOrEmpty
    }

    It 'an id like <_> works through every cmdlet (the API percent-encodes it)' -ForEach @(
        'job/1', 'my task', 'a%b', 'what?', 'x#y', 'back\slash', '%2F'
    ) {
        $taskId = $_
        New-KrTask -Id $taskId -ScriptBlock { "I am $TaskId" } | Should -BeExactly $taskId
        (Get-KrTask -Id $taskId).Id | Should -BeExactly $taskId
        Set-KrTaskName -Id $taskId -Name "named $taskId" | Should -BeTrue
        Start-KrTask -Id $taskId | Should -BeTrue
        Wait-Finished $taskId | Should -Be 'Completed'
        Get-KrTaskResult -Id $taskId | Should -BeExactly "I am $taskId"
        (Wait-KrTask -Id $taskId -Timeout 5).Name | Should -Be "named $taskId"
        Receive-KrTask -Id $taskId | Should -BeExactly "I am $taskId"
        Stop-KrTask -Id $taskId | Should -BeFalse
        Remove-KrTask -Id $taskId | Should -BeTrue
        Get-KrTask -Id $taskId | Should -BeNullOrEmpty
    }
}

Describe '-Server and a piped connection (point 4)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It '<_> takes -Server as an alias of -Connection, and the connection from the pipeline' -ForEach @(
        'New-KrTask', 'Start-KrTask', 'Get-KrTask', 'Get-KrTaskResult', 'Get-KrTaskState', 'Stop-KrTask', 'Remove-KrTask',
        'Set-KrTaskName', 'Wait-KrTask', 'Receive-KrTask', 'Stop-KrTasksDaemon'
    ) {
        $parameter = (Get-Command -Name $_ -Module KrTasks).Parameters['Connection']
        $parameter.Aliases | Should -Contain 'Server'
        $byValue = $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.ValueFromPipeline }
        $byValue | Should -Not -BeNullOrEmpty
    }

    It 'works with -Server as Kestrun scripts pass it' {
        $id = New-KrTask -Server $Server -ScriptBlock { 'via -Server' }
        Start-KrTask -Server $Server -Id $id | Should -BeTrue
        Wait-Finished $id | Out-Null
        Get-KrTaskState -Server $Server -Id $id | Should -Be 'Completed'
        Get-KrTaskResult -Server $Server -Id $id | Should -Be 'via -Server'
        Set-KrTaskName -Server $Server -Id $id -Description 'd' | Should -BeTrue
        (Get-KrTask -Server $Server -Id $id).Description | Should -Be 'd'
        Remove-KrTask -Server $Server -Id $id | Should -BeTrue
    }

    It 'binds a piped connection: $srv | Start-KrTask -Id $id' {
        $srv = Add-KrTasksService -StateDir $StateDir -PassThru
        $id = $srv | New-KrTask -ScriptBlock { 'piped' }
        $srv | Start-KrTask -Id $id | Should -BeTrue
        Wait-Finished $id | Out-Null
        $srv | Get-KrTaskState -Id $id | Should -Be 'Completed'
        $srv | Get-KrTaskResult -Id $id | Should -Be 'piped'
        ($srv | Get-KrTask -Id $id).Id | Should -Be $id
        ($srv | Get-KrTask).Id | Should -Contain $id    # no -Id: the list, not the connection as an id
        $srv | Stop-KrTask -Id $id | Should -BeFalse
        $srv | Remove-KrTask -Id $id | Should -BeTrue
    }

    It 'still binds piped ids: ''id1'', ''id2'' | Stop-KrTask, and records by property' {
        $ids = 1..2 | ForEach-Object { New-KrTask -ScriptBlock { Start-Sleep -Seconds 30 } }
        $ids | Stop-KrTask | Should -Be @($true, $true)
        $ids | Get-KrTaskState | Should -Be @('Stopped', 'Stopped')
        $ids | ForEach-Object { Get-KrTask -Id $_ } | Remove-KrTask | Should -Be @($true, $true)
    }

    It 'refuses a piped connection without -Id rather than taking it for an id' {
        $caught = $null
        try { $Server | Stop-KrTask } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'KrTasks.IdRequired,Stop-KrTask'
    }
}

Describe 'State is the [KrTasks.TaskState] enum with Kestrun''s numbers (point 5)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'has Kestrun''s numbers plus Queued 6' {
        $expected = [ordered]@{ NotStarted = 0; Running = 1; Completed = 2; Failed = 3; Stopped = 4; Stopping = 5; Queued = 6 }
        foreach ($name in $expected.Keys) { [int]([KrTasks.TaskState]$name) | Should -Be $expected[$name] }
        [enum]::GetNames([KrTasks.TaskState]) | Should -HaveCount 7
    }

    It 'compares as a string and as a number, in Get-KrTaskState and in the record' {
        $id = New-KrTask -ScriptBlock { 'x' } -AutoStart
        $state = Wait-Finished $id
        $state | Should -BeOfType [KrTasks.TaskState]
        ($state -eq 'Completed') | Should -BeTrue
        ($state -eq 2) | Should -BeTrue
        [int]$state | Should -Be 2
        ($state -in 'Completed', 'Failed') | Should -BeTrue
        ($state -in 2, 3) | Should -BeTrue
        "$state" | Should -BeExactly 'Completed'
        $record = Get-KrTask -Id $id
        $record.State | Should -BeOfType [KrTasks.TaskState]
        $record.State | Should -Be ([KrTasks.TaskState]::Completed)
        $record.StateText | Should -BeOfType [string]
        $record.StateText | Should -BeExactly 'Completed'
        Get-KrTask -Id $id -State | Should -BeOfType [KrTasks.TaskState]
    }

    It 'gives Failed 3, Stopped 4, Stopping 5, Queued 6 and NotStarted 0' {
        $failed = New-KrTask -ScriptBlock { throw 'broken' } -AutoStart
        Wait-Finished $failed | Should -Be 3
        $stopped = New-KrTask -ScriptBlock { 1 }
        Get-KrTaskState -Id $stopped | Should -Be 0
        Stop-KrTask -Id $stopped | Should -BeTrue
        [int](Get-KrTaskState -Id $stopped) | Should -Be 4
        # Both slots busy: the third task queues. The C# ones ignore the cancel for a while (Stopping).
        $busy = 1..2 | ForEach-Object { New-KrTask -Language CSharp -Code 'await Task.Delay(3000); return 1;' -AutoStart }
        $queued = New-KrTask -ScriptBlock { 'queued' } -AutoStart
        Get-KrTaskState -Id $queued | Should -Be 6
        (Get-KrTask -Id $queued).StateText | Should -Be 'Queued'
        Stop-KrTask -Id $busy[0] | Should -BeTrue
        (Get-KrTaskState -Id $busy[0]) -eq 'Stopping' | Should -BeTrue
        (Get-KrTaskState -Id $busy[0]) -eq 5 | Should -BeTrue
        Wait-Finished $busy[0] | Should -Be 'Stopped'
        Wait-Finished $queued | Should -Be 'Completed'
    }

    It 'keeps the same type across Import-Module -Force' {
        $before = [KrTasks.TaskState]
        Import-Module (Join-Path $Root 'module/KrTasks.psd1') -Force
        Add-KrTasksService -StateDir $StateDir
        [KrTasks.TaskState] | Should -Be $before
        $id = New-KrTask -ScriptBlock { 1 }
        (Get-KrTaskState -Id $id).GetType() | Should -Be $before
    }
}

Describe 'Times are [DateTimeOffset] in UTC (point 6)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'gives CreatedAt, StartedAt and CompletedAt as DateTimeOffset with offset 0, Duration as TimeSpan' {
        $id = New-KrTask -ScriptBlock { Start-Sleep -Milliseconds 200 } -AutoStart
        Wait-Finished $id | Out-Null
        $task = Get-KrTask -Id $id
        foreach ($name in 'CreatedAt', 'StartedAt', 'CompletedAt') {
            $task.$name | Should -BeOfType [System.DateTimeOffset]
            $task.$name.Offset | Should -Be ([timespan]::Zero)
        }
        $task.StartedAt | Should -BeGreaterOrEqual $task.CreatedAt
        $task.Duration | Should -BeOfType [timespan]
        $task.Duration | Should -Be ($task.CompletedAt - $task.StartedAt)
        $task.Duration.TotalMilliseconds | Should -BeGreaterOrEqual 200
        ([DateTimeOffset]::UtcNow - $task.CompletedAt).TotalMinutes | Should -BeLessThan 5
        $idle = Get-KrTask -Id (New-KrTask -ScriptBlock { 1 })
        $idle.StartedAt | Should -BeNullOrEmpty
        $idle.Duration | Should -BeNullOrEmpty
    }
}

Describe 'CliXml across the wire, as PowerShell jobs and remoting (point 7)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'a [datetime] argument arrives as a DateTime, an [int] as Int32, a hashtable as a hashtable (PowerShell)' {
        $arguments = @{ when = [datetime]'2030-01-01T08:30:00'; n = 42; big = [long]5; h = @{ inner = @{ x = 1 } } }
        $id = New-KrTask -AutoStart -Arguments $arguments -ScriptBlock {
            param($when, $n, $big, $h)
            $when.GetType().FullName
            $when.AddDays(1).ToString('yyyy-MM-dd HH:mm')
            $n.GetType().FullName
            $big.GetType().FullName
            $h.GetType().FullName
            $h.inner.GetType().FullName
            $h.inner.x
        }
        Wait-Finished $id | Should -Be 'Completed'
        $result = Get-KrTaskResult -Id $id
        $result | Should -Be @('System.DateTime', '2030-01-02 08:30', 'System.Int32', 'System.Int64', 'System.Collections.Hashtable',
            'System.Collections.Hashtable', 1)
    }

    It 'a [datetime] argument is a typed DateTime variable in C#, an [int] an int, a hashtable a Hashtable' {
        $code = 'return when.AddDays(1).DayOfWeek.ToString() + "|" + (n + 1) + "|" + h.GetType().Name + "|" + h["k"];'
        $caught = $null
        try {
            $id = New-KrTask -Language CSharp -Code $code -Arguments @{ when = [datetime]'2030-01-01'; n = 41; h = @{ k = 'v' } } -AutoStart
        }
        catch { $caught = $_ }
        $caught | Should -BeNullOrEmpty   # it compiles: when.AddDays needs a DateTime, n + 1 an int
        Wait-Finished $id | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -BeExactly 'Wednesday|42|Hashtable|v'
    }

    It 'a [pscustomobject] output comes back with its properties, typed Deserialized.*' {
        $id = New-KrTask -AutoStart -ScriptBlock { [pscustomobject]@{ Name = 'n'; Count = 2; When = [datetime]'2030-01-01'; Tags = @{ a = 1 } } }
        Wait-Finished $id | Out-Null
        $object = Get-KrTaskResult -Id $id
        $object.PSObject.TypeNames[0] | Should -Be 'Deserialized.System.Management.Automation.PSCustomObject'
        $object.Name | Should -BeExactly 'n'
        $object.Count | Should -BeOfType [int]
        $object.When | Should -BeOfType [datetime]
        $object.When | Should -Be ([datetime]'2030-01-01')
        $object.Tags | Should -BeOfType [hashtable]
    }

    It 'Get-Process output comes back as Deserialized.System.Diagnostics.Process objects, as Receive-Job gives it' {
        $id = New-KrTask -AutoStart -ScriptBlock { Get-Process -Id $PID; $PID }
        Wait-Finished $id | Out-Null
        $process, $taskPid = Get-KrTaskResult -Id $id
        $process.PSObject.TypeNames[0] | Should -Be 'Deserialized.System.Diagnostics.Process'
        $process.PSObject.TypeNames | Should -Contain 'Deserialized.System.ComponentModel.Component'
        $process.Id | Should -BeOfType [int]
        $process.Id | Should -Be $taskPid
        $process.ProcessName | Should -Not -BeNullOrEmpty
        # A property bag: the methods stayed on the daemon's side.
        $process.PSObject.Methods.Name | Should -Not -Contain 'Kill'
    }

    It 'a [datetime] output comes back as a [datetime], from PowerShell and from C#' {
        $ps = New-KrTask -AutoStart -ScriptBlock { [datetime]::new(2030, 1, 2, 3, 4, 5, [System.DateTimeKind]::Utc) }
        $cs = New-KrTask -AutoStart -Language CSharp -Code 'return new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc);'
        Wait-Finished $ps | Out-Null
        Wait-Finished $cs | Out-Null
        foreach ($id in $ps, $cs) {
            $date = Get-KrTaskResult -Id $id
            , $date | Should -BeOfType [datetime]
            $date.ToUniversalTime() | Should -Be ([datetime]::new(2030, 1, 2, 3, 4, 5, [System.DateTimeKind]::Utc))
        }
    }

    It 'Receive-KrTask gives the typed output too, with the unrolling of Get-KrTaskResult' {
        $one = Start-KrTask -ScriptBlock { @{ key = [datetime]'2030-01-01' } }
        $many = Start-KrTask -ScriptBlock { 1; [datetime]'2030-01-01'; , @(2, 3) }
        $none = Start-KrTask -ScriptBlock { $null = 1 }
        foreach ($id in $one, $many, $none) { Wait-Finished $id | Out-Null }
        $table = Receive-KrTask -Id $one
        , $table | Should -BeOfType [hashtable]
        $table.key | Should -BeOfType [datetime]
        $items = Receive-KrTask -Id $many
        $items | Should -HaveCount 3
        $items[0] | Should -BeOfType [int]
        $items[1] | Should -BeOfType [datetime]
        @($items[2]) | Should -Be @(2, 3)   # a list the task output as one object stays one object
        $null -eq (Receive-KrTask -Id $none) | Should -BeTrue
    }

    It '-SerializationDepth sets how deep arguments and output travel (default 4)' {
        $shallow = Start-KrTask -SerializationDepth 1 -Arguments @{ item = (Get-Item $PSHOME) } -ScriptBlock {
            param($item)
            $item.Parent.GetType().Name
            Get-Item $PSHOME
        }
        $deep = Start-KrTask -ScriptBlock { Get-Item $PSHOME }
        Wait-Finished $shallow | Should -Be 'Completed'
        Wait-Finished $deep | Should -Be 'Completed'
        $argumentParent, $output = Get-KrTaskResult -Id $shallow
        $argumentParent | Should -Be 'String'   # one level: the argument's properties are strings
        $output.PSObject.TypeNames[0] | Should -Be 'Deserialized.System.IO.DirectoryInfo'
        $output.Parent | Should -BeOfType [string]
        (Get-KrTaskResult -Id $deep).Parent.PSObject.TypeNames[0] | Should -Be 'Deserialized.System.IO.DirectoryInfo'
        $caught = $null
        try { Start-KrTask -ScriptBlock { 1 } -SerializationDepth 17 } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError*'
    }

    It 'errors still arrive as problems: a failed task''s exception, an invalid field' {
        $failed = New-KrTask -AutoStart -ScriptBlock { throw [System.IO.FileNotFoundException]::new('no such file') }
        Wait-Finished $failed | Should -Be 'Failed'
        $caught = $null
        try { Receive-KrTask -Id $failed } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'KrTasks.TaskFailed,System.IO.FileNotFoundException*'
        $caught.Exception.Message | Should -Match 'no such file'
        $caught = $null
        try { New-KrTask -ScriptBlock { 1 } -TimeoutSeconds 1 -Arguments @{ 'not a name' = 1 } } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'KrTasks.InvalidRequest,New-KrTask'
        $caught.Exception.Message | Should -Match 'Arguments'
    }
}

Describe 'Results unroll as Kestrun''s (point 8)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'one output gives that object, not a one-element array' {
        $id = New-KrTask -ScriptBlock { 'only' } -AutoStart
        Wait-Finished $id | Out-Null
        $result = Get-KrTaskResult -Id $id
        , $result | Should -BeOfType [string]
        $result | Should -BeExactly 'only'
        $custom = New-KrTask -ScriptBlock { [pscustomobject]@{ Name = 'n'; Count = 2 } } -AutoStart
        Wait-Finished $custom | Out-Null
        $object = Get-KrTaskResult -Id $custom
        , $object | Should -BeOfType [pscustomobject]
        $object.Name | Should -Be 'n'   # KrTasks keeps a pscustomobject's properties
        $object.Count | Should -Be 2
    }

    It 'several outputs give an array, none gives $null' {
        $many = New-KrTask -ScriptBlock { 1; 'two'; 3 } -AutoStart
        $none = New-KrTask -ScriptBlock { $null = 'nothing' } -AutoStart
        Wait-Finished $many | Out-Null
        Wait-Finished $none | Out-Null
        $result = Get-KrTaskResult -Id $many
        , $result | Should -BeOfType [array]
        $result | Should -Be @(1, 'two', 3)
        $nothing = Get-KrTaskResult -Id $none
        $null -eq $nothing | Should -BeTrue
    }

    It 'gives $null until the task has finished' {
        $id = New-KrTask -ScriptBlock { Start-Sleep -Seconds 30; 'late' } -AutoStart
        $early = Get-KrTaskResult -Id $id
        $null -eq $early | Should -BeTrue
        Stop-KrTask -Id $id | Should -BeTrue
    }
}

Describe 'What C# and VB task code sees (points 9 and 10)' {
    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'C# has Kestrun''s imports without -ExtraImports' {
        $id = New-KrTask -Language CSharp -AutoStart -Code 'return Path.GetFileName("/a/b.txt") + Regex.IsMatch("x","x") + File.Exists("/nope");'
        Wait-Finished $id | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be 'b.txtTrueFalse'
        $id = New-KrTask -Language CSharp -AutoStart -Code 'var h = new Hashtable(); h["a"] = new PSObject(1); return h.Count;'
        Wait-Finished $id | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be 1
    }

    It 'C# sees Locals (the arguments by name) and Globals (empty and read-only)' {
        $code = 'return Locals.GetType().Name + ":" + Locals["n"] + ":" + Locals.Count + ":" + Globals.Count;'
        $id = New-KrTask -Language CSharp -Code $code -Arguments @{ n = 5; label = 'x' } -AutoStart
        Wait-Finished $id | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be 'Dictionary`2:5:2:0'
        $caught = $null
        try { New-KrTask -Language CSharp -Code 'Globals["shared"] = 1; return 1;' } catch { $caught = $_ }
        $caught.TargetObject[0].Id | Should -Be 'CS0200'   # nothing is shared between tasks
    }

    It 'VB sees g.Locals, g.Globals and Microsoft.VisualBasic (Len, Now, vbCrLf, CInt)' {
        $code = 'Return Len("abc") & "|" & CInt("7") & "|" & (Now.Year > 2000) & vbCrLf & g.Locals("n") & "|" & g.Globals.Count'
        $id = New-KrTask -Language VBNet -Code $code -Arguments @{ n = 9 } -AutoStart
        Wait-Finished $id | Should -Be 'Completed'
        Get-KrTaskResult -Id $id | Should -Be "3|7|True`r`n9|0"
    }
}

Describe 'The tutorial routes as Kestrun serves them (points 11 and 12)' {
    BeforeAll {
        # A Kestrun user talks to the tutorial with Invoke-RestMethod, as the seed page's PowerShell block.
        $script:DemoDir = Join-Path $TestDrive 'demo'
        $script:Cli = Join-Path $Root '.venv/bin/krtasks'
        $port = Get-ClosedPort
        $script:Base = "https://127.0.0.1:$port"
        $script:Demo = Start-Process -FilePath $Cli -ArgumentList 'demo', '--port', $port, '--state-dir', $DemoDir -PassThru `
            -RedirectStandardOutput (Join-Path $TestDrive 'demo.out') -RedirectStandardError (Join-Path $TestDrive 'demo.err')
        Wait-Until { Test-Path (Join-Path $DemoDir 'daemon.json') } 60 | Out-Null
        function script:Invoke-Tutorial([string] $Path) {
            Invoke-RestMethod -Uri "$Base$Path" -SkipCertificateCheck -SkipHttpErrorCheck -StatusCodeVariable status
            $script:LastStatus = $status
        }
    }

    AfterAll {
        & $Cli stop --state-dir $DemoDir | Out-Null
        if (-not $Demo.HasExited) { $Demo.Kill() }
    }

    BeforeEach { Use-Preference 'Stop' }
    AfterEach { $global:ErrorActionPreference = $SavedPreference }

    It 'serves the PowerShell task''s record with State numbers, +00:00 times and a TimeSpan Duration' {
        $id = (Invoke-Tutorial '/tasks/create/ps?seconds=2').id
        (Invoke-Tutorial "/tasks/state?id=$id").State | Should -Be 0
        (Invoke-Tutorial "/tasks/start?id=$id").started | Should -BeTrue
        $LastStatus | Should -Be 202
        $seen = [System.Collections.Generic.HashSet[string]]::new()
        do {
            $state = Invoke-Tutorial "/tasks/state?id=$id"
            $null = $seen.Add($state.Progress.StatusMessage)
            Start-Sleep -Milliseconds 100
        } while ($state.State -in 0, 1)
        $seen | Should -Contain 'Sleeping (1/2)'
        $seen | Should -Not -Contain 'Sleeping (2/2)'
        $state.State | Should -Be 2
        $state.StateText | Should -Be 'Completed'
        # ConvertFrom-Json turns the +00:00 strings back into dates.
        $state.CompletedAt | Should -BeOfType [datetime]
        $state.Duration.TotalSeconds | Should -BeGreaterOrEqual 2
        $state.Duration.Ticks | Should -Be ([long]($state.Duration.TotalSeconds * 1e7))
        $result = Invoke-Tutorial "/tasks/result?id=$id"
        $result | Should -BeOfType [string]
        $result | Should -BeLike 'PS task done at *'
    }

    It 'lets a cancelled C# task finish: Stopped (4), with its result' {
        $id = (Invoke-Tutorial '/tasks/create/cs?ms=1000').id
        (Invoke-Tutorial "/tasks/start?id=$id").started | Should -BeTrue
        Wait-Until { (Invoke-Tutorial "/tasks/state?id=$id").Progress.StatusMessage -like 'Working*' } | Should -BeTrue
        (Invoke-Tutorial "/tasks/cancel?id=$id").cancelled | Should -BeTrue
        Wait-Until { (Invoke-Tutorial "/tasks/state?id=$id").StateText -eq 'Stopped' } | Should -BeTrue
        (Invoke-Tutorial "/tasks/state?id=$id").State | Should -Be 4
        Invoke-Tutorial "/tasks/result?id=$id" | Should -BeLike 'CS task done at *'
    }

    It 'answers Kestrun''s error texts' {
        (Invoke-Tutorial '/tasks/state').error | Should -Be "Missing 'id' query parameter"
        $LastStatus | Should -Be 400
        (Invoke-Tutorial '/tasks/state?id=nope').error | Should -Be 'Task not found'
        $LastStatus | Should -Be 404
        $id = (Invoke-Tutorial '/tasks/create/ps').id
        (Invoke-Tutorial "/tasks/result?id=$id").error | Should -Be 'Task is not in a completed state'
        $LastStatus | Should -Be 409
    }
}
