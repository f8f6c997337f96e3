function Receive-KrTask {
    <#
    .SYNOPSIS
        Gets what a task produced: its stream records on the matching streams, then its output.
    .DESCRIPTION
        Writes the task's Error, Warning, Verbose, Debug and Information records to this
        session's error, warning, verbose, debug and information streams (your preference
        variables and -Verbose/-Debug/-InformationAction decide what shows), then outputs the
        task's result once it has finished, typed as Receive-Job gives a job's output (CliXml; see
        Get-KrTaskResult). A failed task's exception is written as a last error (its category
        kept).

        As Receive-Job, what was received is consumed: the next Receive-KrTask for the same task
        (in this connection) writes only newer records and no output again. -Keep leaves
        everything to be received again. A task that has not finished yet gives the records so
        far and no output; -Wait waits for it to finish, writing records as they come and
        showing its progress.
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Keep
        Do not consume: the next Receive-KrTask gets the same records and output again.
    .PARAMETER Wait
        Wait until the task has finished, writing its records as they arrive.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Write-Warning 'careful'; Write-Verbose 'details' -Verbose; 'result' }
        Receive-KrTask -Id $id -Wait -Verbose

        Writes the warning and the verbose message, then outputs 'result'.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Write-Error 'bad input'; 42 }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        $value = Receive-KrTask -Id $id -Keep -ErrorVariable taskErrors -ErrorAction SilentlyContinue
        "$value / $($taskErrors.Count) error(s)"

        Collects the task's errors in a variable and its output in another, keeping both for later.
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
    .OUTPUTS
        The task's output objects.
    .LINK
        Wait-KrTask
    .LINK
        Get-KrTaskResult
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [switch] $Keep,

        [switch] $Wait,

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            $state = Receive-KrTasksStream -Caller $PSCmdlet -Connection $conn -TaskId $taskId -Keep:$Keep -Wait:$Wait
            # Unknown id (written as an error), or the output was received already.
            if ($null -eq $state -or ($state.OutputTaken -and -not $Keep)) { continue }
            $result = Get-KrTasksResult -Caller $PSCmdlet -Connection $conn -TaskId $taskId
            if (-not $result.Ok) { continue }
            $failure = ConvertTo-KrTaskError (Get-KrTasksMember $result.Body 'Error')
            if ($null -ne $failure) {
                $PSCmdlet.WriteError((New-KrTasksTaskErrorRecord -TaskError $failure -TaskId $taskId))
            }
            if (-not $Keep) { $state.OutputTaken = $true }
            Write-KrTasksOutput -Body $result.Body
        }
    }
}
