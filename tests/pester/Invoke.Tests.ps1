# Invoke-KrTask against a real daemon (issue 14): Add-KrTasks starts one for a temporary state dir on a free
# port (BeforeAll), Stop-KrTasksDaemon stops it (AfterAll). Every test names its tasks (-Name) so that it can
# tell from Get-KrTask what was left behind.

BeforeAll {
    $script:Root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:ModulePath = Join-Path $Root 'module/KrTasks.psd1'
    Import-Module $ModulePath -Force
    $script:StateDir = Join-Path ([System.IO.Path]::GetTempPath()) "krtasks-invoke-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
    $script:Connection = Add-KrTasks -StateDir $StateDir -Port 0 -MaxRunspaces 4 -PassThru

    # Polls a condition (a script block) every 100 ms up to $Seconds; returns its last value.
    function script:Wait-Until([scriptblock] $Condition, [double] $Seconds = 30) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        do {
            $value = & $Condition
            if ($value) { return $value }
            Start-Sleep -Milliseconds 100
        } while ($watch.Elapsed.TotalSeconds -lt $Seconds)
        $value
    }

    # A name no other test uses, so Get-KrTask -Name finds only this test's tasks.
    function script:New-TaskName { "invoke-$([guid]::NewGuid().ToString('N').Substring(0, 10))" }

    # The tasks of one test still on the daemon.
    function script:Get-Left([string] $Name) { @(Get-KrTask -Name $Name) }

    # Runs $Script in a PowerShell of its own (another runspace, connected to the test daemon) and returns it
    # started: Stop() there is what Ctrl+C does to a pipeline.
    function script:Start-Background([scriptblock] $Script, [hashtable] $Parameters) {
        $ps = [powershell]::Create()
        $null = $ps.AddScript({
                param($ModulePath, $StateDir)
                Import-Module $ModulePath
                Add-KrTasks -StateDir $StateDir
            }).AddArgument($ModulePath).AddArgument($StateDir)
        $null = $ps.AddStatement().AddScript($Script)
        foreach ($key in $Parameters.Keys) { $null = $ps.AddParameter($key, $Parameters[$key]) }
        [pscustomobject]@{ PowerShell = $ps; Async = $ps.BeginInvoke() }
    }

    # How many of the intervals ({Start, End}) overlap at most at one moment.
    function script:Get-MaxOverlap([object[]] $Intervals) {
        $most = 0
        foreach ($a in $Intervals) {
            $at = @($Intervals | Where-Object { $_.Start -le $a.Start -and $_.End -gt $a.Start }).Count
            $most = [math]::Max($most, $at)
        }
        $most
    }
}

AfterAll {
    if ($script:Connection) { Stop-KrTasksDaemon -Connection $Connection -Confirm:$false }
    Remove-Module KrTasks -Force -ErrorAction SilentlyContinue
    if ($script:StateDir -and (Test-Path $StateDir)) { Remove-Item -Recurse -Force $StateDir }
}

Describe 'Invoke-KrTask' {
    Context 'one task' {
        It 'outputs the result typed, as Receive-Job gives it, and removes the task' {
            $name = New-TaskName
            $out = Invoke-KrTask { [datetime]'2030-01-02T03:04:05Z'; [long]5; @{ k = 'v' }; [pscustomobject]@{ A = 1 }; Get-Item / } -Name $name
            $out | Should -HaveCount 5
            $out[0] | Should -BeOfType [datetime]
            $out[0].ToUniversalTime().Hour | Should -Be 3
            $out[1] | Should -BeOfType [long]
            $out[2] | Should -BeOfType [hashtable]
            $out[2].k | Should -Be 'v'
            $out[3].A | Should -Be 1
            $out[4].PSObject.TypeNames | Should -Contain 'Deserialized.System.IO.DirectoryInfo'
            Get-Left $name | Should -BeNullOrEmpty
        }

        It 'outputs nothing for code with no output' {
            Invoke-KrTask { } | Should -BeNullOrEmpty
            Invoke-KrTask -Code '' | Should -BeNullOrEmpty
        }

        It 'keeps a list the code outputs as one object as one object' {
            $out = Invoke-KrTask { , @(1, 2, 3); 'next' }
            $out | Should -HaveCount 2
            $out[0] | Should -HaveCount 3
        }

        It 'passes -Arguments typed, as variables and to param()' {
            $when = [datetime]::new(2026, 12, 2, 10, 30, 0, [System.DateTimeKind]::Utc)
            $out = Invoke-KrTask { param($When, $Count) $When.GetType().Name; $When.Minute; $Count.GetType().Name; $Table.a } `
                -Arguments @{ When = $when; Count = [long]7; Table = @{ a = 'A' } }
            $out | Should -Be @('DateTime', 30, 'Int64', 'A')
        }

        It 'runs C# code and outputs the value it returns' {
            Invoke-KrTask -Language CSharp -Code 'return Enumerable.Range(1, n).Sum();' -Arguments @{ n = 10 } | Should -Be 55
        }

        It 'runs VB.NET code' {
            Invoke-KrTask -Language VBNet -Code 'Return Greeting & ", World"' -Arguments @{ Greeting = 'Hello' } | Should -Be 'Hello, World'
        }

        It 'runs a code file, its extension picking the language' {
            $cs = Join-Path $TestDrive 'sum.cs'
            Set-Content -Path $cs -Value 'return 40 + 2;'
            Invoke-KrTask -CodeFilePath $cs | Should -Be 42
            $ps1 = Join-Path $TestDrive 'hello.ps1'
            Set-Content -Path $ps1 -Value 'param($who) "hello $who"'
            'file' | Invoke-KrTask -CodeFilePath $ps1 | Should -Be 'hello file'
        }

        It 'refuses a code file it cannot tell the language of, or that does not exist' {
            $txt = Join-Path $TestDrive 'code.txt'
            Set-Content -Path $txt -Value '1'
            { Invoke-KrTask -CodeFilePath $txt } | Should -Throw -ErrorId 'KrTasks.UnknownCodeFileExtension,Invoke-KrTask'
            { Invoke-KrTask -CodeFilePath (Join-Path $TestDrive 'none.ps1') } | Should -Throw -ErrorId 'KrTasks.CodeFileNotFound,Invoke-KrTask'
        }

        It 'makes code that does not compile a terminating error with the diagnostics, and creates no task' {
            $name = New-TaskName
            $caught = $null
            try { 1..3 | Invoke-KrTask -Language CSharp -Code "var x = 1;`nreturn x + nothere;" -Name $name -ErrorAction SilentlyContinue }
            catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -Be 'KrTasks.CompileError,Invoke-KrTask'
            $caught.TargetObject[0].Id | Should -Be 'CS0103'
            $caught.TargetObject[0].Line | Should -Be 2
            { Invoke-KrTask -Code 'if (' } | Should -Throw -ErrorId 'KrTasks.CompileError,Invoke-KrTask'
            Get-Left $name | Should -BeNullOrEmpty
        }
    }

    Context 'streams' {
        It 'writes the task''s records to the matching streams' {
            $out = Invoke-KrTask {
                Write-Warning 'careful'
                Write-Information 'counted'
                Write-Error 'not fatal'
                Write-Verbose 'details' -Verbose
                Write-Debug 'inner' -Debug
                'done'
            } -WarningVariable warnings -WarningAction SilentlyContinue -InformationVariable notes -ErrorVariable errors `
                -ErrorAction SilentlyContinue -Verbose -Debug 4>&1 5>&1
            "$warnings" | Should -Be 'careful'
            "$notes" | Should -Be 'counted'
            $errors | Should -HaveCount 1
            $errors[0].FullyQualifiedErrorId | Should -Be 'KrTasks.TaskError,Invoke-KrTask'
            "$($errors[0])" | Should -Be 'not fatal'
            ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Be 'details'
            ($out | Where-Object { $_ -is [System.Management.Automation.DebugRecord] }).Message | Should -Be 'inner'
            $out[-1] | Should -Be 'done'
        }

        It 'writes each task''s records right before its output, in input order' {
            $out = 1..4 | Invoke-KrTask { Write-Warning "w$_"; "o$_" } -ThrottleLimit 4 3>&1
            @($out | ForEach-Object { "$_" }) | Should -Be @('w1', 'o1', 'w2', 'o2', 'w3', 'o3', 'w4', 'o4')
        }
    }

    Context 'failures' {
        It 'turns a Failed task into a non-terminating error record after its output, and goes on with the next input' {
            $name = New-TaskName
            $out = 1..3 | Invoke-KrTask { "start $_"; if ($_ -eq 2) { throw "two is bad" }; "end $_" } -Name $name `
                -ErrorVariable failures -ErrorAction SilentlyContinue
            $out | Should -Be @('start 1', 'end 1', 'start 2', 'start 3', 'end 3')
            $failures | Should -HaveCount 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'KrTasks.TaskFailed,System.Management.Automation.RuntimeException,Invoke-KrTask'
            $failures[0].Exception.Message | Should -Be 'two is bad'
            $failures[0].CategoryInfo.Category | Should -Be 'OperationStopped'
            Get-Left $name | Should -BeNullOrEmpty
        }

        It 'is a terminating error with -ErrorAction Stop, and removes every task of the call' {
            $name = New-TaskName
            $errorId = 'KrTasks.TaskFailed,System.Management.Automation.RuntimeException,Invoke-KrTask'
            { 1..6 | Invoke-KrTask { if ($_ -eq 1) { throw 'first' }; Start-Sleep -Seconds 1 } -Name $name -ThrottleLimit 3 -ErrorAction Stop } |
                Should -Throw -ErrorId $errorId
            Get-Left $name | Should -BeNullOrEmpty
        }

        It 'stops a task that runs longer than -TimeoutSeconds (a TimeoutException failure)' {
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            Invoke-KrTask { Start-Sleep -Seconds 30 } -TimeoutSeconds 0.5 -ErrorVariable late -ErrorAction SilentlyContinue
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 20
            $late | Should -HaveCount 1
            $late[0].FullyQualifiedErrorId | Should -BeLike 'KrTasks.TaskFailed,*TimeoutException,Invoke-KrTask'
        }

        It 'reports a task stopped by someone else as KrTasks.TaskStopped' {
            $name = New-TaskName
            $job = Start-Background { param($Name) Invoke-KrTask { Start-Sleep -Seconds 60 } -Name $Name } @{ Name = $name }
            try {
                Wait-Until { @(Get-KrTask -Name $name -StateFilter Running).Count -eq 1 } | Should -BeTrue
                Get-KrTask -Name $name | Stop-KrTask | Should -BeTrue
                $null = $job.PowerShell.EndInvoke($job.Async)
                @($job.PowerShell.Streams.Error)[-1].FullyQualifiedErrorId | Should -Be 'KrTasks.TaskStopped,Invoke-KrTask'
                Wait-Until { (Get-Left $name).Count -eq 0 } 10 | Should -BeTrue
            }
            finally { $job.PowerShell.Dispose() }
        }
    }

    Context 'pipeline input' {
        It 'runs one task per input and outputs in input order, whatever order they finish in' {
            $out = 1..12 | Invoke-KrTask { param($x) Start-Sleep -Milliseconds ((13 - $x) * 40); $x * 2 } -ThrottleLimit 4
            $out | Should -Be @(2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24)
        }

        It 'runs the tasks in parallel: four sleeps of 2 s overlap with -ThrottleLimit 4' {
            $code = { $start = [datetime]::UtcNow; Start-Sleep -Seconds 2; [pscustomobject]@{ Start = $start; End = [datetime]::UtcNow } }
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            $runs = 1..4 | Invoke-KrTask $code -ThrottleLimit 4
            $watch.Stop()
            $runs | Should -HaveCount 4
            Get-MaxOverlap $runs | Should -Be 4
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 8   # one after the other: 8 s and more
        }

        It 'runs no more than -ThrottleLimit tasks at once' {
            $code = { $start = [datetime]::UtcNow; Start-Sleep -Milliseconds 800; [pscustomobject]@{ Start = $start; End = [datetime]::UtcNow } }
            $runs = 1..6 | Invoke-KrTask $code -ThrottleLimit 2
            $runs | Should -HaveCount 6
            Get-MaxOverlap $runs | Should -Be 2
        }

        It 'gives PowerShell code the object as $_ and $PSItem, typed' {
            'a', 'b' | Invoke-KrTask { "$_$PSItem" } | Should -Be @('aa', 'bb')
            [datetime]'2020-01-01' | Invoke-KrTask { $_.GetType().Name } | Should -Be 'DateTime'
            Get-Item / | Invoke-KrTask { $_.PSObject.TypeNames[0] } | Should -Be 'Deserialized.System.IO.DirectoryInfo'
            # Rich objects come two levels deep: at the output's depth, Get-Item / was a 36 MB request (refused: 1 MiB).
            Get-Item / | Invoke-KrTask { param($d) $d.FullName } | Should -Be '/'
            Get-Process -Id $PID | Invoke-KrTask { $_.Id } | Should -Be $PID
        }

        It 'binds the object to the first parameter that -Arguments does not give' {
            1..2 | Invoke-KrTask { param($x, $y) "$x-$y" } -Arguments @{ y = 'Y' } | Should -Be @('1-Y', '2-Y')
            1..2 | Invoke-KrTask { param($y, $x) "$y-$x" } -Arguments @{ y = 'Y' } | Should -Be @('Y-1', 'Y-2')
            5 | Invoke-KrTask { param([switch] $Loud, $n) "$n $Loud" } | Should -Be '5 False'
        }

        It 'gives both $_ and the parameter when the code reads both, with -Arguments bound too' {
            5 | Invoke-KrTask { param($m, $n) "$m $n $_" } -Arguments @{ m = 'M' } | Should -Be 'M 5 5'
            5 | Invoke-KrTask { param($n) if ($n -ne $_) { throw 'differ' }; $n } | Should -Be 5
        }

        It 'keeps a collection given to -InputObject as one object' {
            Invoke-KrTask -InputObject @(1, 2, 3) { $_.Count } | Should -Be 3
        }

        It 'gives C# and VB code the object as InputObject' {
            1..3 | Invoke-KrTask -Language CSharp -Code 'return (int)InputObject * factor;' -Arguments @{ factor = 10 } |
                Should -Be @(10, 20, 30)
            'a' | Invoke-KrTask -Language VBNet -Code 'Return CStr(InputObject) & "!"' | Should -Be 'a!'
        }

        It 'runs no task for empty input' {
            $name = New-TaskName
            @() | Invoke-KrTask { 'never' } -Name $name | Should -BeNullOrEmpty
        }

        It 'stops and removes the rest when a downstream command has enough (Select-Object -First)' {
            $name = New-TaskName
            $out = 1..20 | Invoke-KrTask { Start-Sleep -Milliseconds 200; $_ } -Name $name -ThrottleLimit 4 | Select-Object -First 2
            $out | Should -Be @(1, 2)
            Get-Left $name | Should -BeNullOrEmpty
        }
    }

    Context '-Keep' {
        It 'removes each task by default' {
            $name = New-TaskName
            1..3 | Invoke-KrTask { $_ } -Name $name | Should -Be @(1, 2, 3)
            Get-Left $name | Should -BeNullOrEmpty
        }

        It 'leaves the tasks, finished, with their results, with -Keep' {
            $name = New-TaskName
            1..2 | Invoke-KrTask { $_ * 3 } -Name $name -Keep | Should -Be @(3, 6)
            $kept = Get-Left $name
            $kept | Should -HaveCount 2
            $kept.State | Should -Be @('Completed', 'Completed')
            @($kept | ForEach-Object { Get-KrTaskResult -Id $_.Id } | Sort-Object) | Should -Be @(3, 6)
            $kept | Remove-KrTask | Out-Null
        }
    }

    Context 'long tasks: the one-call wait runs out (202)' {
        BeforeAll {
            # Shorter than the tasks below, so each creation answers 202 and the cmdlet falls back to /wait polls.
            $module = Get-Module KrTasks
            $script:SavedWait = & $module { $script:InvokeWaitSeconds }
            & $module { $script:InvokeWaitSeconds = 0.3 }
        }

        AfterAll {
            & (Get-Module KrTasks) { param($seconds) $script:InvokeWaitSeconds = $seconds } $SavedWait
        }

        It 'still gets the output and the streams of a task that outlasts the wait' {
            $name = New-TaskName
            $out = Invoke-KrTask { Start-Sleep -Seconds 1.5; Write-Warning 'late warning'; [datetime]'2031-01-01' } -Name $name `
                -WarningVariable warnings -WarningAction SilentlyContinue
            $out | Should -BeOfType [datetime]
            "$warnings" | Should -Be 'late warning'
            Get-Left $name | Should -BeNullOrEmpty
        }

        It 'loses no task of a pipeline, and keeps the order' {
            $name = New-TaskName
            1..4 | Invoke-KrTask { param($x) Start-Sleep -Milliseconds (1400 - $x * 200); $x } -Name $name -ThrottleLimit 4 |
                Should -Be @(1, 2, 3, 4)
            Get-Left $name | Should -BeNullOrEmpty
        }
    }

    Context 'Ctrl+C (the pipeline is stopped)' {
        It 'cancels the running tasks and removes them' {
            $name = New-TaskName
            $job = Start-Background { param($Name) 1..5 | Invoke-KrTask { Start-Sleep -Seconds 60 } -Name $Name -ThrottleLimit 3 } @{ Name = $name }
            try {
                Wait-Until { @(Get-KrTask -Name $name -StateFilter Running).Count -eq 3 } | Should -BeTrue
                $watch = [System.Diagnostics.Stopwatch]::StartNew()
                $job.PowerShell.Stop()
                $watch.Elapsed.TotalSeconds | Should -BeLessThan 20
                $job.PowerShell.InvocationStateInfo.State | Should -Be 'Stopped'
                Get-Left $name | Should -BeNullOrEmpty
            }
            finally { $job.PowerShell.Dispose() }
        }

        It 'cancels them and keeps them, Stopped, with -Keep' {
            $name = New-TaskName
            $job = Start-Background { param($Name) 1..2 | Invoke-KrTask { Start-Sleep -Seconds 60 } -Name $Name -Keep } @{ Name = $name }
            try {
                Wait-Until { @(Get-KrTask -Name $name -StateFilter Running).Count -eq 2 } | Should -BeTrue
                $job.PowerShell.Stop()
                Wait-Until { @(Get-KrTask -Name $name -StateFilter Stopped).Count -eq 2 } 20 | Should -BeTrue
                Get-Left $name | Remove-KrTask | Out-Null
            }
            finally { $job.PowerShell.Dispose() }
        }
    }
}
