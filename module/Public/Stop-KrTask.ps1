function Stop-KrTask {
    <#
    .SYNOPSIS
        Cancels tasks.
    .DESCRIPTION
        Asks the daemon to cancel each task and returns $true when the cancel was issued: a task
        that has not started yet becomes Stopped at once; a running task is stopped (PowerShell
        at the next pipeline boundary, C# and VB through their CancellationToken) and ends
        Stopped. Returns $false for a task that has already finished (no error, as Stop-Job) and
        for an unknown id (with an ObjectNotFound error).
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). Default: the default connection.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        Stop-KrTask -Id $id

        Cancels a running task; outputs True.
    .EXAMPLE
        Get-KrTask -StateFilter Running | Stop-KrTask -WhatIf

        Shows which tasks would be cancelled.
    .INPUTS
        System.String, or any object with an Id property.
    .OUTPUTS
        System.Boolean.
    .LINK
        Remove-KrTask
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        foreach ($taskId in $Id) {
            if (-not $PSCmdlet.ShouldProcess($taskId, 'Stop task')) { continue }
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Method POST -Path (Get-KrTasksTaskPath $taskId 'cancel') -TargetId $taskId -Handled 409
            if ($response.Status -eq 409) {
                Write-Verbose "Task ${taskId}: $(Get-KrTasksMember $response.Problem 'detail' 'already finished')"
            }
            $response.Ok
        }
    }
}
