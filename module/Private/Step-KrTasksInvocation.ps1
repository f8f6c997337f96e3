function Step-KrTasksInvocation {
    <#
    .SYNOPSIS
        Moves an Invoke-KrTask call on: sends queued tasks while fewer than ThrottleLimit run, reads the
        answers that have come in, and outputs the tasks that are ready, in input order.
    .DESCRIPTION
        With -Block it first waits (at most a quarter of a second, so Ctrl+C is seen promptly) until one
        of the requests in flight has completed; without, it only takes what has already come in. Each
        call does one round: callers loop (until the queue is empty, or until nothing is left).
        Output: the tasks' output objects, written by Write-KrTasksInvocationItem.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $Invocation,
        [switch] $Block
    )
    $run = $Invocation
    while ($run.Queue.Count -gt 0 -and $run.Active -lt $run.ThrottleLimit) {
        $item = $run.Queue.Dequeue()
        $item.Phase = 'Posting'
        $item.Pending = Send-KrTasksRequestAsync -Connection $run.Connection -Method POST -Path 'tasks' -CliXmlBody $item.Body `
            -CliXmlDepth ($run.SerializationDepth + 3) -AcceptCliXml -TimeoutSeconds ($run.WaitSeconds + 30)
        $run.Active++
    }
    if ($Block) {
        $tasks = [System.Collections.Generic.List[System.Threading.Tasks.Task]]::new()
        foreach ($item in $run.Items) { if ($null -ne $item.Pending) { $tasks.Add($item.Pending.Task) } }
        foreach ($delete in $run.Deletes) { $tasks.Add($delete.Pending.Task) }
        if ($tasks.Count -gt 0) { $null = [System.Threading.Tasks.Task]::WaitAny($tasks.ToArray(), 250) }
    }
    foreach ($item in @($run.Items)) {
        if ($null -ne $item.Pending -and $item.Pending.Task.IsCompleted) { Update-KrTasksInvocationItem -Invocation $run -Item $item }
    }
    for ($i = $run.Deletes.Count - 1; $i -ge 0; $i--) {
        $delete = $run.Deletes[$i]
        if (-not $delete.Pending.Task.IsCompleted) { continue }
        $run.Deletes.RemoveAt($i)
        $response = Receive-KrTasksResponse -Caller $run.Caller -Pending $delete.Pending -Connection $run.Connection
        # 404: someone else removed it already.
        if (-not $response.Ok -and $response.Status -ne 404) {
            Write-KrTasksResponseError -Caller $run.Caller -Response $response -TargetId $delete.Id
        }
    }
    while ($run.Items.Count -gt 0 -and $run.Items[0].Phase -eq 'Ready') {
        $item = $run.Items[0]
        $run.Items.RemoveAt(0)
        Write-KrTasksInvocationItem -Invocation $run -Item $item
    }
}
