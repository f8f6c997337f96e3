function Get-KrTasksResult {
    <#
    .SYNOPSIS
        Asks the daemon for a task's result ({Id, CreatedAt, State, Output, Error}); returns the answer (see
        Read-KrTasksResponse).
    .DESCRIPTION
        Error answers not in -Handled are written as errors of -Caller (see Invoke-KrTasksApi); a 409 means
        the task has not finished yet. The result is asked for as CliXml, so the body is the deserialized
        hashtable and the output keeps its types (rich objects as Deserialized.*, as Receive-Job gives them).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Connection,
        [Parameter(Mandatory)] [string] $TaskId,
        [int[]] $Handled = @(409)
    )
    $path = Get-KrTasksTaskPath $TaskId 'result'
    Invoke-KrTasksApi -Caller $Caller -Connection $Connection -Path $path -TargetId $TaskId -Handled $Handled -AcceptCliXml
}
