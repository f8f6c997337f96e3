function Get-KrTasksProgressActivity {
    <#
    .SYNOPSIS
        The Activity text of a task's progress bar: the task's own Activity, else its name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory, Position = 0)] $Record)
    if ($Record.Progress.Activity) { return [string]$Record.Progress.Activity }
    if ($Record.Name) { return "KrTasks: $($Record.Name)" }
    "KrTasks: task $($Record.Id)"
}
