function Get-KrTasksRequestedId {
    <#
    .SYNOPSIS
        The task ids a cmdlet was given, without the connection object when it came down the pipeline.
    .DESCRIPTION
        A connection piped into a task cmdlet binds to -Connection, but PowerShell also converts the same
        pipeline object to a string for an -Id that the command line left unbound ("@{Uri=...}"). That
        string is not an id the caller meant: when the current pipeline object (-InputObject, the caller's
        $_) is a KrTasks.Connection and -Id holds just its string form, it is dropped. Blank ids are
        dropped too (no task has one). With -Required, no id left is a terminating error of -Caller
        (Get-KrTask instead lists all tasks).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [AllowNull()] [string[]] $Id,
        [AllowNull()] $InputObject,
        [switch] $Required
    )
    $ids = @(foreach ($taskId in $Id) { if (-not [string]::IsNullOrWhiteSpace($taskId)) { $taskId } })
    $piped = $Caller.MyInvocation.ExpectingInput -and $null -ne $InputObject -and $InputObject.PSObject.TypeNames -contains 'KrTasks.Connection'
    if ($piped -and $ids.Count -eq 1 -and $ids[0] -ceq [string]$InputObject) { $ids = @() }
    if ($Required -and $ids.Count -eq 0) {
        $message = 'Give the task id with -Id: a connection came down the pipeline, but no id.'
        $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.IdRequired' -Category InvalidArgument -Message $message `
            -ExceptionType ([System.ArgumentException])
        $Caller.ThrowTerminatingError($record)
    }
    $ids
}
