function Add-KrTasksInvocationItem {
    <#
    .SYNOPSIS
        Queues one task (a creation request from New-KrTasksInvokeBody) in an Invoke-KrTask call.
    .DESCRIPTION
        The item goes to the end of the output order and waits in the queue until
        Step-KrTasksInvocation has a free slot to send it. Phases: Queued, Posting (the one-call request
        is in flight), Polling (the wait ran out: /wait long polls), Fetching (/result), Streams (/streams
        pages), Ready (all read, waiting for its turn to be output).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $Invocation,
        [Parameter(Mandatory)] [hashtable] $Body
    )
    $item = @{
        Id      = [string]$Body.Id
        Body    = $Body
        Phase   = 'Queued'
        Pending = $null
        Result  = $null
        Records = [System.Collections.Generic.List[object]]::new()
        Next    = 0
        Failure = $null
        Exists  = $false
    }
    $Invocation.Items.Add($item)
    $Invocation.Queue.Enqueue($item)
}
