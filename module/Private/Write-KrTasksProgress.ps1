function Write-KrTasksProgress {
    <#
    .SYNOPSIS
        Shows a task's own progress (its record's Progress) as a Write-Progress bar.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Record, [Parameter(Mandatory)] [int] $ProgressId)
    $progress = $Record.Progress
    $status = if ($progress.StatusMessage) { $progress.StatusMessage } else { $Record.StateText }
    $splat = @{
        Id              = $ProgressId
        Activity        = Get-KrTasksProgressActivity $Record
        Status          = "[$($Record.StateText)] $status"
        PercentComplete = [math]::Min(100, [math]::Max(0, [int]$progress.PercentComplete))
    }
    if ($progress.CurrentOperation) { $splat.CurrentOperation = [string]$progress.CurrentOperation }
    if ($null -ne $progress.SecondsRemaining -and [int]$progress.SecondsRemaining -ge 0) { $splat.SecondsRemaining = [int]$progress.SecondsRemaining }
    Write-Progress @splat
}
