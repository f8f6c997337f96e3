function Get-KrTaskResult {
    <#
    .SYNOPSIS
        Gets the output of a finished task.
    .DESCRIPTION
        Outputs the task's raw result: a PowerShell task's output objects (one by one), or the
        value a C# or VB task returned. Until the task has finished it outputs nothing ($null, as
        Kestrun's Get-KrTaskResult) and writes no error, so it can be polled. An unknown id writes
        an ObjectNotFound error. Objects come back as the daemon serialised them (JSON): custom
        objects as [pscustomobject], dates as [datetime].

        The result stays available: unlike Receive-KrTask, this cmdlet does not consume it and
        ignores the task's streams (use Receive-KrTask for errors, warnings and the like).
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). Default: the default connection.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Get-Date -Year 2030 -Month 1 -Day 2; 'second item' }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        Outputs a date and a string.
    .INPUTS
        System.String, or any object with an Id property.
    .OUTPUTS
        The task's output objects.
    .LINK
        Receive-KrTask
    #>
    [CmdletBinding()]
    [OutputType([object])]
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
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Path (Get-KrTasksTaskPath $taskId 'result') -TargetId $taskId -Handled 409 -DateKind Default
            if ($response.Status -eq 409) {
                Write-Verbose "Task $taskId has not finished yet; no result."
                continue
            }
            if (-not $response.Ok) { continue }
            Write-KrTasksOutput -Body $response.Body
        }
    }
}
