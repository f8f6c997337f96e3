function Wait-KrTask {
    <#
    .SYNOPSIS
        Waits until tasks finish, showing their progress, and outputs the finished records.
    .DESCRIPTION
        Waits on the daemon (its /wait long poll, one request per task at a time, in slices of
        about a second so the progress bars stay current) until every task has finished
        (Completed, Failed or Stopped), or with -Any until the first one has. Meanwhile one
        Write-Progress bar per task shows the task's own progress (percent, status message,
        activity, current operation); $ProgressPreference = 'SilentlyContinue' hides them.

        Outputs the records of the tasks that finished. When -Timeout passes first, it outputs
        those that finished by then and leaves the others running (as Wait-Job). Ids come from
        the pipeline too; unknown ids give an ObjectNotFound error and are not waited for.
    .PARAMETER Id
        The ids of the tasks to wait for; from the pipeline as strings or by property name.
    .PARAMETER Any
        Return as soon as one task has finished.
    .PARAMETER Timeout
        The longest wait in seconds; -1 (the default) waits without limit.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { 1..4 | ForEach-Object { $TaskProgress.PercentComplete = $_ * 25; $TaskProgress.StatusMessage = "Step $_"; Start-Sleep -Milliseconds 300 } }
        Wait-KrTask -Id $id

        Shows a progress bar while the task runs, then outputs its record.
    .EXAMPLE
        $ids = 1..3 | ForEach-Object { Start-KrTask -ScriptBlock { param($s) Start-Sleep -Seconds $s; $s } -Arguments @{ s = $_ } }
        $first = Wait-KrTask -Id $ids -Any
        $first.Id

        Returns when the quickest task has finished.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 10 }
        if (-not (Wait-KrTask -Id $id -Timeout 1)) { "still $(Get-KrTaskState -Id $id)" }
        Stop-KrTask -Id $id | Out-Null

        A timeout leaves the task running.
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
    .OUTPUTS
        KrTasks.Task.
    .LINK
        Receive-KrTask
    .LINK
        Start-KrTask
    #>
    [CmdletBinding()]
    [OutputType('KrTasks.Task')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [switch] $Any,

        [ValidateRange(-1, [int]::MaxValue)]
        [int] $Timeout = -1,

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    begin {
        $ids = [System.Collections.Generic.List[string]]::new()
        $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    }
    process {
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            if ($seen.Add($taskId)) { $ids.Add($taskId) }
        }
    }
    end {
        if ($ids.Count -eq 0) { return }
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        # Each poll asks the daemon to hold the answer up to this long: short enough for fresh progress.
        $sliceSeconds = 1.0
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $progressBase = Get-Random -Minimum 100000 -Maximum 900000
        $states = [ordered]@{}
        for ($i = 0; $i -lt $ids.Count; $i++) {
            $states[$ids[$i]] = [pscustomobject]@{ Id = $ids[$i]; ProgressId = $progressBase + $i; Request = $null; Pending = $null; Cts = $null; Record = $null; Done = $false }
        }
        try {
            $stop = $false
            $firstRound = $true
            while (-not $stop) {
                $waiting = @($states.Values | Where-Object { -not $_.Done })
                if ($waiting.Count -eq 0) { break }
                $remaining = if ($Timeout -lt 0) { [double]::PositiveInfinity } else { $Timeout - $watch.Elapsed.TotalSeconds }
                $inFlight = @($waiting | Where-Object { $null -ne $_.Pending })
                # Past the deadline, only the polls already asked (each ends by the deadline) are awaited.
                if ($remaining -le 0 -and $inFlight.Count -eq 0 -and -not $firstRound) { break }
                if ($remaining -gt 0 -or $firstRound) {
                    # Never hold a poll past the deadline, so what finished by then is still reported.
                    $slice = [math]::Round([math]::Min($sliceSeconds, [math]::Max(0.0, $remaining)), 3)
                    foreach ($s in $waiting) {
                        if ($null -ne $s.Pending) { continue }
                        $s.Request = New-KrTasksRequest -Connection $conn -Path (Get-KrTasksTaskPath $s.Id 'wait') -Query @{ Timeout = $slice }
                        $s.Cts = [System.Threading.CancellationTokenSource]::new([timespan]::FromSeconds($slice + 30))
                        $s.Pending = $conn.HttpClient.SendAsync($s.Request, $s.Cts.Token)
                    }
                }
                $firstRound = $false
                # Block in short steps so Ctrl+C is noticed promptly.
                $tasks = [System.Threading.Tasks.Task[]]@($waiting | Where-Object { $null -ne $_.Pending } | ForEach-Object Pending)
                if ($tasks.Count -eq 0) { continue }
                $null = [System.Threading.Tasks.Task]::WaitAny($tasks, 250)
                foreach ($s in $waiting) {
                    if ($null -eq $s.Pending -or -not $s.Pending.IsCompleted) { continue }
                    $pending = $s.Pending
                    $s.Pending = $null
                    $s.Cts.Dispose(); $s.Request.Dispose()
                    if (-not $pending.IsCompletedSuccessfully) {
                        $failure = if ($pending.IsCanceled) { [System.TimeoutException]::new('The wait request timed out.') } else { $pending.Exception }
                        $PSCmdlet.ThrowTerminatingError((New-KrTasksErrorRecord -Exception $failure -Connection $conn))
                    }
                    $response = Read-KrTasksResponse -Response $pending.Result
                    if (-not $response.Ok) {
                        $s.Done = $true
                        Write-KrTasksResponseError -Caller $PSCmdlet -Response $response -TargetId $s.Id
                        continue
                    }
                    $s.Record = ConvertTo-KrTaskRecord $response.Body
                    if ($s.Record.State -in $script:FinishedStates) {
                        $s.Done = $true
                        Write-Progress -Id $s.ProgressId -Activity (Get-KrTasksProgressActivity $s.Record) -Completed
                        if ($Any) { $stop = $true }
                    }
                    else {
                        Write-KrTasksProgress -Record $s.Record -ProgressId $s.ProgressId
                    }
                }
            }
        }
        finally {
            # Also on Ctrl+C: abandon open polls (the tasks keep running) and clear the bars.
            foreach ($s in $states.Values) {
                if ($null -ne $s.Pending) {
                    $s.Cts.Cancel()
                    $s.Cts.Dispose(); $s.Request.Dispose()
                }
                if (-not $s.Done) {
                    Write-Progress -Id $s.ProgressId -Activity $(if ($s.Record) { Get-KrTasksProgressActivity $s.Record } else { "Task $($s.Id)" }) -Completed
                }
            }
        }
        # The tasks that finished, in the order the ids were given (as Wait-Job).
        foreach ($s in $states.Values) {
            if ($null -ne $s.Record -and $s.Record.State -in $script:FinishedStates) { $s.Record }
        }
    }
}
