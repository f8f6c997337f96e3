function Remove-KrTask {
    <#
    .SYNOPSIS
        Removes tasks (and their child tasks) from the daemon.
    .DESCRIPTION
        Returns $true for each task removed. A task that is still running (or queued), or whose
        child task still runs, is not removed: $false and an error, unless -Force, which cancels
        it first (as Remove-Job -Force). An unknown id gives $false and an ObjectNotFound error.
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Force
        Cancel a task that is still running, then remove it.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). Default: the default connection.
    .EXAMPLE
        $id = New-KrTask -ScriptBlock { 'never run' }
        Remove-KrTask -Id $id

        Removes a task; outputs True.
    .EXAMPLE
        Get-KrTask -StateFilter Completed | Remove-KrTask -Confirm:$false

        Removes every completed task.
    .EXAMPLE
        Get-KrTask -Name 'demo*' | Remove-KrTask -Force -WhatIf

        Shows which tasks would be removed, running ones included.
    .INPUTS
        System.String, or any object with an Id property.
    .OUTPUTS
        System.Boolean.
    .LINK
        Stop-KrTask
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [switch] $Force,

        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        foreach ($taskId in $Id) {
            if (-not $PSCmdlet.ShouldProcess($taskId, $(if ($Force) { 'Stop and remove task' } else { 'Remove task' }))) { continue }
            $query = if ($Force) { @{ Force = $true } } else { $null }
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Method DELETE -Path (Get-KrTasksTaskPath $taskId) -Query $query -TargetId $taskId -Handled 409
            if ($response.Status -eq 409) {
                $record = New-KrTasksErrorRecord -Response $response -TargetId $taskId
                $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($record.Exception.Message)
                $record.ErrorDetails.RecommendedAction = 'Stop the task first (Stop-KrTask), wait for it (Wait-KrTask), or use -Force.'
                $PSCmdlet.WriteError($record)
            }
            if ($response.Ok) { $null = $conn.Received.Remove($taskId) }
            $response.Ok
        }
    }
}
