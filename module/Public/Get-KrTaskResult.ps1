function Get-KrTaskResult {
    <#
    .SYNOPSIS
        Gets the output of a finished task.
    .DESCRIPTION
        Outputs the task's result as Kestrun's Get-KrTaskResult: a PowerShell task's output objects
        (one object gives that object, several an array, none $null), or the value a C# or VB task
        returned. Until the task has finished it outputs nothing ($null) and writes no error, so it
        can be polled. An unknown id outputs nothing too and writes no error record (-Verbose says
        why) unless -ErrorAction is given explicitly. The output travels as CliXml, PowerShell's own
        serialization, as Receive-Job gets a job's output: strings, numbers, dates ([datetime]),
        hashtables and lists keep their types, custom objects keep their properties, and rich objects
        (processes, files, ...) come back as Deserialized.* property bags, as deep as the task's
        -SerializationDepth (default 4).

        The result stays available: unlike Receive-KrTask, this cmdlet does not consume it and
        ignores the task's streams (use Receive-KrTask for errors, warnings and the like).
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Get-Date -Year 2030 -Month 1 -Day 2; 'second item' }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        Outputs a date and a string.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Get-Process -Id $PID; [pscustomobject]@{ Name = 'n'; When = Get-Date } }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        $process, $custom = Get-KrTaskResult -Id $id
        '{0} / {1} / {2}' -f $process.PSObject.TypeNames[0], $custom.Name, $custom.When.GetType().Name

        Rich output comes back as Receive-Job gives it: "Deserialized.System.Diagnostics.Process / n /
        DateTime".
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
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

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            $response = Get-KrTasksResult -Caller $PSCmdlet -Connection $conn -TaskId $taskId -Handled 404, 409
            if ($response.Status -eq 404) { Write-KrTasksSoftFailure -Caller $PSCmdlet -NotFoundId $taskId }
            elseif ($response.Status -eq 409) { Write-Verbose "Task $taskId has not finished yet; no result." }
            if ($response.Ok) { Write-KrTasksOutput -Body $response.Body }
        }
    }
}
