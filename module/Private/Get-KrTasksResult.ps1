function Get-KrTasksResult {
    <#
    .SYNOPSIS
        Asks the daemon for a task's result ({Id, CreatedAt, State, Output, Error}); returns the answer (see
        Read-KrTasksResponse).
    .DESCRIPTION
        Error answers not in -Handled are written as errors of -Caller (see Invoke-KrTasksApi); a 409 means
        the task has not finished yet. JSON dates in the output come back as [datetime].
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Connection,
        [Parameter(Mandatory)] [string] $TaskId,
        [int[]] $Handled = @(409)
    )
    $path = Get-KrTasksTaskPath $TaskId 'result'
    Invoke-KrTasksApi -Caller $Caller -Connection $Connection -Path $path -TargetId $TaskId -Handled $Handled -DateKind Default
}
