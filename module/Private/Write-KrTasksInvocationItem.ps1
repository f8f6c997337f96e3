function Write-KrTasksInvocationItem {
    <#
    .SYNOPSIS
        Outputs one finished task of an Invoke-KrTask call: its stream records, its output, its failure.
    .DESCRIPTION
        First starts the task's removal (unless Keep), so that a failure written under -ErrorAction Stop
        still leaves nothing behind. Then writes the stream records to the caller's matching streams (see
        Write-KrTasksStreamRecord), outputs the result (each item of a PowerShell task's output, or the
        value a C# or VB task returned, typed from CliXml) and, for a Failed task, its error (see
        New-KrTasksTaskErrorRecord); a task stopped by someone else is a KrTasks.TaskStopped error.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $Invocation,
        [Parameter(Mandatory)] [hashtable] $Item
    )
    $run = $Invocation
    $caller = $run.Caller
    if ($Item.Exists -and -not $run.Keep) {
        $pending = Send-KrTasksRequestAsync -Connection $run.Connection -Method DELETE -Path (Get-KrTasksTaskPath $Item.Id)
        $run.Deletes.Add(@{ Id = $Item.Id; Pending = $pending })
    }
    foreach ($record in $Item.Records) { Write-KrTasksStreamRecord -Caller $caller -Record $record -TaskId $Item.Id }
    $result = $Item.Result
    if ($null -ne $result) {
        $output = if ($result -is [System.Collections.IDictionary]) { $result['Output'] } else { $result.PSObject.Properties['Output'].Value }
        # One level only: an item that is itself a list stays one object, as the task output it.
        if ($output -is [System.Collections.IList]) { foreach ($value in $output) { , $value } }
        elseif ($null -ne $output) { $output }
        $state = [string](Get-KrTasksMember $result 'State' '')
        $failure = ConvertTo-KrTaskError (Get-KrTasksMember $result 'Error')
        if ($null -ne $failure) {
            $caller.WriteError((New-KrTasksTaskErrorRecord -TaskError $failure -TaskId $Item.Id))
        }
        elseif ($state -eq 'Stopped') {
            $message = "Task $($Item.Id) was stopped before it finished."
            $caller.WriteError((New-KrTasksErrorRecord -ErrorId 'KrTasks.TaskStopped' -Category OperationStopped -Message $message `
                        -TargetObject $Item.Id -ExceptionType ([System.OperationCanceledException])))
        }
    }
    if ($null -ne $Item.Failure) { $caller.WriteError($Item.Failure) }
}
