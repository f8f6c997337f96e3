function Stop-KrTask {
    <#
    .SYNOPSIS
        Cancels tasks.
    .DESCRIPTION
        Asks the daemon to cancel each task and returns $true when the cancel was issued: a task
        that has not started yet becomes Stopped at once; a running task is stopped (PowerShell
        at the next pipeline boundary, C# and VB through their CancellationToken) and ends
        Stopped. As Kestrun's Stop-KrTask it returns $false, with no error record, for a task that
        has already finished (as Stop-Job) and for an unknown id, so a script under
        $ErrorActionPreference = 'Stop' keeps running; -Verbose says why. Only with an explicit
        -ErrorAction is an unknown id also written as an ObjectNotFound error.
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 30 }
        Stop-KrTask -Id $id

        Cancels a running task; outputs True.
    .EXAMPLE
        Get-KrTask -StateFilter Running | Stop-KrTask -WhatIf

        Shows which tasks would be cancelled.
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
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

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            if (-not $PSCmdlet.ShouldProcess($taskId, 'Stop task')) { continue }
            $path = Get-KrTasksTaskPath $taskId 'cancel'
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Method POST -Path $path -TargetId $taskId -Handled 404, 409
            if ($response.Status -eq 404) { Write-KrTasksSoftFailure -Caller $PSCmdlet -NotFoundId $taskId }
            elseif ($response.Status -eq 409) { Write-KrTasksSoftFailure -Caller $PSCmdlet -Response $response -TargetId $taskId -VerboseOnly }
            $response.Ok
        }
    }
}
