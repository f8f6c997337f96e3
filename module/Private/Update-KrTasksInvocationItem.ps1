function Update-KrTasksInvocationItem {
    <#
    .SYNOPSIS
        Takes the answer of an Invoke-KrTask item's request that has completed and sends its next one.
    .DESCRIPTION
        Posting: 201 holds the finished task's result (CliXml), so its stream records are read next; 202
        means the one-call wait ran out and the task goes on, so /wait is long-polled until it has
        finished, then /result is read (the fallback loses no task). Any other answer to the creation
        (compile error, invalid field, refused arguments) is the same for every input, so it is a
        terminating error of the caller. Polling, Fetching: a 404 (someone removed the task) becomes that
        task's ObjectNotFound error. Streams: pages are read until one comes back empty; then the item is
        Ready.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $Invocation,
        [Parameter(Mandatory)] [hashtable] $Item
    )
    $run = $Invocation
    $caller = $run.Caller
    $pending = $Item.Pending
    $Item.Pending = $null
    $response = Receive-KrTasksResponse -Caller $caller -Pending $pending -Connection $run.Connection
    $path = Get-KrTasksTaskPath $Item.Id
    $next = $null
    switch ($Item.Phase) {
        'Posting' {
            if ($response.Status -eq 201) {
                $Item.Exists = $true
                $run.Active--
                $Item.Result = $response.Body
                $next = 'Streams'
            }
            elseif ($response.Status -eq 202) {
                $Item.Exists = $true
                $next = 'Polling'
            }
            else {
                # The task does not exist (refused): nothing to remove.
                $run.Active--
                $Item.Phase = 'Ready'
                $caller.ThrowTerminatingError((New-KrTasksErrorRecord -Response $response -TargetId $Item.Id))
            }
        }
        'Polling' {
            if ($response.Ok) {
                $state = [string](Get-KrTasksMember $response.Body 'State' '')
                $next = if ($state -in $script:FinishedStates) { 'Fetching' } else { 'Polling' }
                if ($next -eq 'Fetching') { $run.Active-- }
            }
            else {
                $run.Active--
                $Item.Exists = $response.Status -ne 404
                $Item.Failure = if ($response.Status -eq 404) { New-KrTasksErrorRecord -NotFoundId $Item.Id }
                else { New-KrTasksErrorRecord -Response $response -TargetId $Item.Id }
                $next = 'Ready'
            }
        }
        'Fetching' {
            if ($response.Ok) {
                $Item.Result = $response.Body
                $next = 'Streams'
            }
            else {
                $Item.Exists = $response.Status -ne 404
                $Item.Failure = if ($response.Status -eq 404) { New-KrTasksErrorRecord -NotFoundId $Item.Id }
                else { New-KrTasksErrorRecord -Response $response -TargetId $Item.Id }
                $next = 'Ready'
            }
        }
        'Streams' {
            $records = @(if ($response.Ok) { Get-KrTasksMember $response.Body 'Records' })
            foreach ($record in $records) { $Item.Records.Add($record) }
            $Item.Next = [int](Get-KrTasksMember $response.Body 'Next' $Item.Next)
            $next = if ($records.Count -gt 0) { 'Streams' } else { 'Ready' }
        }
    }
    $Item.Phase = $next
    $conn = $run.Connection
    switch ($next) {
        'Polling' {
            $query = @{ Timeout = $run.WaitSeconds }
            $Item.Pending = Send-KrTasksRequestAsync -Connection $conn -Path "$path/wait" -Query $query -TimeoutSeconds ($run.WaitSeconds + 30)
        }
        'Fetching' { $Item.Pending = Send-KrTasksRequestAsync -Connection $conn -Path "$path/result" -AcceptCliXml }
        'Streams' { $Item.Pending = Send-KrTasksRequestAsync -Connection $conn -Path "$path/streams" -Query @{ Since = $Item.Next } }
    }
}
