function Get-KrTaskState {
    <#
    .SYNOPSIS
        Gets the state of a task.
    .DESCRIPTION
        Outputs the state as a string: NotStarted, Queued, Running, Stopping, Completed, Failed
        or Stopped. An unknown id writes an ObjectNotFound error and outputs nothing ($null, as
        Kestrun's Get-KrTaskState).
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). Default: the default connection.
    .EXAMPLE
        $id = New-KrTask -ScriptBlock { 1 }
        Get-KrTaskState -Id $id

        Outputs NotStarted.
    .INPUTS
        System.String, or any object with an Id property.
    .OUTPUTS
        System.String.
    .LINK
        Get-KrTask
    #>
    [CmdletBinding()]
    [OutputType([string])]
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
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Path (Get-KrTasksTaskPath $taskId) -TargetId $taskId
            if ($response.Ok) { [string](Get-KrTasksMember $response.Body 'State') }
        }
    }
}
