function Wait-KrTask {
    <#
    .SYNOPSIS
        Waits until tasks finish, showing their progress, and outputs the finished records.
    .DESCRIPTION
        Waits on the daemon (its /wait long poll, one request per task at a time, in slices of
        about a second so the progress bars stay current) until every task has finished
        (Completed, Failed or Stopped), or with -Any until the first one has. Meanwhile one
        Write-Progress bar per task shows the task's own progress (percent, status message,
        activity, current operation); $ProgressPreference = 'SilentlyContinue' hides them.

        Outputs the records of the tasks that finished. When -Timeout passes first, it outputs
        those that finished by then and leaves the others running (as Wait-Job). Ids come from
        the pipeline too; unknown ids give an ObjectNotFound error and are not waited for.
    .PARAMETER Id
        The ids of the tasks to wait for; from the pipeline as strings or by property name.
    .PARAMETER Any
        Return as soon as one task has finished.
    .PARAMETER Timeout
        The longest wait in seconds; -1 (the default) waits without limit.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock {
            1..4 | ForEach-Object { $TaskProgress.PercentComplete = $_ * 25; $TaskProgress.StatusMessage = "Step $_"; Start-Sleep -Milliseconds 300 }
        }
        Wait-KrTask -Id $id

        Shows a progress bar while the task runs, then outputs its record.
    .EXAMPLE
        $ids = 1..3 | ForEach-Object { Start-KrTask -ScriptBlock { param($s) Start-Sleep -Seconds $s; $s } -Arguments @{ s = $_ } }
        $first = Wait-KrTask -Id $ids -Any
        $first.Id

        Returns when the quickest task has finished.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { Start-Sleep -Seconds 10 }
        if (-not (Wait-KrTask -Id $id -Timeout 1)) { "still $(Get-KrTaskState -Id $id)" }
        Stop-KrTask -Id $id | Out-Null

        A timeout leaves the task running.
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
    .OUTPUTS
        KrTasks.Task.
    .LINK
        Receive-KrTask
    .LINK
        Start-KrTask
    #>
    [CmdletBinding()]
    [OutputType('KrTasks.Task')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [switch] $Any,

        [ValidateRange(-1, [int]::MaxValue)]
        [int] $Timeout = -1,

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    begin {
        $ids = [System.Collections.Generic.List[string]]::new()
        $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    }
    process {
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            if ($seen.Add($taskId)) { $ids.Add($taskId) }
        }
    }
    end {
        if ($ids.Count -eq 0) { return }
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        Wait-KrTasksCompletion -Caller $PSCmdlet -Connection $conn -Id $ids.ToArray() -Any:$Any -Timeout $Timeout
    }
}
