function Remove-KrTask {
    <#
    .SYNOPSIS
        Removes tasks (and their child tasks) from the daemon.
    .DESCRIPTION
        Returns $true for each task removed (with its child tasks). As Kestrun's Remove-KrTask it
        returns $false, with no error record, for an unknown id and for a task that is still
        running (or queued) or whose child task still runs, so a script under
        $ErrorActionPreference = 'Stop' keeps running; -Verbose says why. Only with an explicit
        -ErrorAction are those also written as errors (ObjectNotFound, WrongState). -Force cancels
        a running task first, then removes it (as Remove-Job -Force).
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Force
        Cancel a task that is still running, then remove it.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
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
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
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

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            if (-not $PSCmdlet.ShouldProcess($taskId, $(if ($Force) { 'Stop and remove task' } else { 'Remove task' }))) { continue }
            $query = if ($Force) { @{ Force = $true } } else { $null }
            $path = Get-KrTasksTaskPath $taskId
            $request = @{ Caller = $PSCmdlet; Connection = $conn; Method = 'DELETE'; Path = $path; Query = $query; TargetId = $taskId }
            $response = Invoke-KrTasksApi @request -Handled 404, 409
            if ($response.Status -eq 404) { Write-KrTasksSoftFailure -Caller $PSCmdlet -NotFoundId $taskId }
            elseif ($response.Status -eq 409) {
                $action = 'Stop the task first (Stop-KrTask), wait for it (Wait-KrTask), or use -Force.'
                Write-KrTasksSoftFailure -Caller $PSCmdlet -Response $response -TargetId $taskId -RecommendedAction $action
            }
            if ($response.Ok) { $null = $conn.Received.Remove($taskId) }
            $response.Ok
        }
    }
}
