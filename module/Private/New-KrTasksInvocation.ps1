function New-KrTasksInvocation {
    <#
    .SYNOPSIS
        The state of one Invoke-KrTask call: its tasks in input order, from request to output.
    .DESCRIPTION
        A hashtable the private Invoke helpers share: Add-KrTasksInvocationItem queues a task,
        Step-KrTasksInvocation sends, polls, reads and outputs them (at most -ThrottleLimit tasks
        running at once), and Stop-KrTasksInvocation cancels and removes what is left when the call is
        stopped or fails.
        Items: every task not output yet, in input order (output order). Queue: those not sent yet.
        Active: how many are sent and not finished. Deletes: removals in flight ({Id; Pending}).
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Connection,
        [Parameter(Mandatory)] [int] $ThrottleLimit,
        [Parameter(Mandatory)] [double] $WaitSeconds,
        [Parameter(Mandatory)] [int] $SerializationDepth,
        [switch] $Keep
    )
    @{
        Caller             = $Caller
        Connection         = $Connection
        ThrottleLimit      = $ThrottleLimit
        WaitSeconds        = $WaitSeconds
        SerializationDepth = $SerializationDepth
        Keep               = [bool]$Keep
        Items              = [System.Collections.Generic.List[hashtable]]::new()
        Queue              = [System.Collections.Generic.Queue[hashtable]]::new()
        Active             = 0
        Deletes            = [System.Collections.Generic.List[hashtable]]::new()
    }
}
