function Wait-KrTasksCompletion {
    <#
    .SYNOPSIS
        The polling loop of Wait-KrTask: long-polls /wait for each task until all (or, with -Any, one) have
        finished or -Timeout passes, showing each task's progress; outputs the finished records in -Id order.
    .DESCRIPTION
        One request per task at a time, each held by the daemon up to about a second (never past the
        deadline), so the progress bars stay current and what finished by the deadline is still reported.
        The wait blocks in steps of 250 ms so that Ctrl+C (a pipeline stop) is noticed promptly; then, and on
        any other exit, open polls are abandoned (the tasks keep running) and the bars cleared. An unknown
        id is written as an error of -Caller and not waited for; a poll that gets no answer is a
        terminating error of -Caller.
    #>
    [CmdletBinding()]
    [OutputType('KrTasks.Task')]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Connection,
        [Parameter(Mandatory)] [string[]] $Id,
        [switch] $Any,
        [int] $Timeout = -1
    )
    # Each poll asks the daemon to hold the answer up to this long: short enough for fresh progress.
    $sliceSeconds = 1.0
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $progressBase = Get-Random -Minimum 100000 -Maximum 900000
    $states = [ordered]@{}
    for ($i = 0; $i -lt $Id.Count; $i++) {
        $states[$Id[$i]] = [pscustomobject]@{
            Id = $Id[$i]; ProgressId = $progressBase + $i; Request = $null; Pending = $null; Cts = $null; Record = $null; Done = $false
        }
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
                    $s.Request = New-KrTasksRequest -Connection $Connection -Path (Get-KrTasksTaskPath $s.Id 'wait') -Query @{ Timeout = $slice }
                    $s.Cts = [System.Threading.CancellationTokenSource]::new([timespan]::FromSeconds($slice + 30))
                    $s.Pending = $Connection.HttpClient.SendAsync($s.Request, $s.Cts.Token)
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
                    $Caller.ThrowTerminatingError((New-KrTasksErrorRecord -Exception $failure -Connection $Connection))
                }
                $response = Read-KrTasksResponse -Response $pending.Result
                if (-not $response.Ok) {
                    $s.Done = $true
                    Write-KrTasksResponseError -Caller $Caller -Response $response -TargetId $s.Id
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
                $activity = if ($s.Record) { Get-KrTasksProgressActivity $s.Record } else { "Task $($s.Id)" }
                Write-Progress -Id $s.ProgressId -Activity $activity -Completed
            }
        }
    }
    # The tasks that finished, in the order the ids were given (as Wait-Job).
    foreach ($s in $states.Values) {
        if ($null -ne $s.Record -and $s.Record.State -in $script:FinishedStates) { $s.Record }
    }
}
