function New-KrTasksTaskErrorRecord {
    <#
    .SYNOPSIS
        The ErrorRecord for the exception that made a task fail (its Error field), keeping the
        task's error category and type name.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param([Parameter(Mandatory)] $TaskError, [Parameter(Mandatory)] [string] $TaskId)
    $message = if ($TaskError.Message) { [string]$TaskError.Message } else { "Task $TaskId failed." }
    $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    if ($TaskError.Category -and [enum]::GetNames([System.Management.Automation.ErrorCategory]) -contains [string]$TaskError.Category) {
        $category = [System.Management.Automation.ErrorCategory][string]$TaskError.Category
    }
    $errorId = if ($TaskError.Type) { "KrTasks.TaskFailed,$($TaskError.Type)" } else { 'KrTasks.TaskFailed' }
    $remote = [System.Management.Automation.RemoteException]
    $record = New-KrTasksErrorRecord -ErrorId $errorId -Category $category -Message $message -TargetObject $TaskId -ExceptionType $remote
    $record.Exception.Data['TaskError'] = $TaskError
    if ($null -ne $TaskError.Line) {
        $where = "task $TaskId, line $($TaskError.Line), column $($TaskError.Column)"
        $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new("$message ($where)")
    }
    $record
}
