function Stop-KrTasksInvocation {
    <#
    .SYNOPSIS
        Ends an Invoke-KrTask call that was stopped (Ctrl+C, a downstream Select-Object -First) or failed:
        cancels its tasks that still run and removes every task it created and has not removed (with
        Keep, only cancels).
    .DESCRIPTION
        Runs from Invoke-KrTask's clean block, where nothing can be written any more, so every request is
        synchronous and its failures are ignored. A task whose creation request is still in flight may not
        exist on the daemon yet (the cancel answers 404): the cancel is tried again, for at most
        -GraceSeconds, until the task exists or its creation request has answered. Removal of a running
        task uses DELETE ?Force=true, which cancels it, waits for its end and removes it. Requests still in
        flight at the end are abandoned (their cancellation tokens fire).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $Invocation,
        [double] $GraceSeconds = 5
    )
    $run = $Invocation
    $conn = $run.Connection
    $deadline = [datetime]::UtcNow.AddSeconds($GraceSeconds)
    foreach ($item in $run.Items) {
        $path = Get-KrTasksTaskPath $item.Id
        $running = $item.Phase -in 'Posting', 'Polling'
        if (-not $running -and -not $item.Exists) { continue }
        if (-not $running -and $run.Keep) { continue }
        while ($true) {
            $request = if ($run.Keep) { @{ Method = 'POST'; Path = "$path/cancel" } }
            elseif ($running) { @{ Method = 'DELETE'; Path = $path; Query = @{ Force = $true } } }
            else { @{ Method = 'DELETE'; Path = $path } }
            $status = 0
            try {
                $response = Read-KrTasksResponse -Response (Send-KrTasksRequest -Connection $conn @request -TimeoutSeconds 30)
                $status = $response.Status
            }
            catch {
                break
            }
            # 404 while the creation request is still out: the daemon has not registered the task yet.
            $creating = $item.Phase -eq 'Posting' -and $null -ne $item.Pending -and -not $item.Pending.Task.IsCompleted
            if ($status -ne 404 -or -not $creating -or [datetime]::UtcNow -gt $deadline) { break }
            Start-Sleep -Milliseconds 20
        }
    }
    # Removals already under way: let them end (bounded), so the tasks are gone when the call returns.
    $tasks = @(foreach ($delete in $run.Deletes) { $delete.Pending.Task })
    if ($tasks.Count -gt 0) {
        $left = [math]::Max(0, ($deadline - [datetime]::UtcNow).TotalMilliseconds)
        $null = [System.Threading.Tasks.Task]::WaitAll([System.Threading.Tasks.Task[]]$tasks, [int]$left + 1000)
    }
    $abandoned = @(foreach ($item in $run.Items) { if ($null -ne $item.Pending) { $item.Pending } }) +
    @(foreach ($delete in $run.Deletes) { $delete.Pending })
    foreach ($pending in $abandoned) {
        try { $pending.Cancel.Cancel(); $pending.Cancel.Dispose() } catch { $null = $_ }
        if ($pending.Task.IsCompleted -and -not $pending.Task.IsFaulted -and -not $pending.Task.IsCanceled) { $pending.Task.Result.Dispose() }
        $pending.Request.Dispose()
    }
    $run.Items.Clear()
    $run.Queue.Clear()
    $run.Deletes.Clear()
}
