function Write-KrTasksResponseError {
    <#
    .SYNOPSIS
        Reports a daemon error answer (see Read-KrTasksResponse) through the calling cmdlet.
    .DESCRIPTION
        A 404 about a task (-TargetId) is the standard ObjectNotFound error (as Get-Job). A 401 is
        a terminating error: nothing else can work with a refused token, so one error stops the
        cmdlet instead of one per input. Any other status is a non-terminating error whose
        category follows the status (see New-KrTasksErrorRecord -Response).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Response,
        [string] $TargetId
    )
    if ($Response.Status -eq 404 -and $TargetId) {
        $Caller.WriteError((New-KrTasksErrorRecord -NotFoundId $TargetId))
        return
    }
    $record = New-KrTasksErrorRecord -Response $Response -TargetId $TargetId
    if ($Response.Status -eq 401) { $Caller.ThrowTerminatingError($record) }
    $Caller.WriteError($record)
}
