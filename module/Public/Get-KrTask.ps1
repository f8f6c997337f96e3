function Get-KrTask {
    <#
    .SYNOPSIS
        Gets task records from the KrTasks daemon: all of them, filtered ones, or by id.
    .DESCRIPTION
        Without -Id, outputs every task, newest first, optionally filtered by name (wildcards),
        state, language and parent. With -Id, outputs the record of each task, or writes an
        ObjectNotFound error (and outputs nothing, Kestrun's $null) for an unknown id; with -Id
        and -State, only the state ("Running", "Completed", ...).

        A record (type KrTasks.Task) carries Id, Name, Description, Language, State, StateText,
        CreatedAt, StartedAt, CompletedAt ([datetime] UTC), Duration ([timespan]), Progress
        (PercentComplete, StatusMessage, Activity, CurrentOperation, SecondsRemaining),
        ParentId, ChildrenId, TimeoutSeconds and Error (Type, Message, Category, StackTrace,
        Line, Column, for a failed task).
    .PARAMETER Id
        The id of a task (case-insensitive); from the pipeline as strings or by property name.
    .PARAMETER State
        With -Id: output only the task's state (Kestrun's Get-KrTask -Id -State).
    .PARAMETER Name
        Only tasks whose name matches one of these (wildcards allowed, case-insensitive).
    .PARAMETER StateFilter
        Only tasks in one of these states: NotStarted, Queued, Running, Stopping, Completed,
        Failed, Stopped.
    .PARAMETER Language
        Only tasks in one of these languages: PowerShell, CSharp, VBNet.
    .PARAMETER ParentId
        Only the children of this task.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). Default: the default connection.
    .EXAMPLE
        Get-KrTask

        Lists every task as a table (Id, Name, Language, State, Progress %, Duration).
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { 'done' } -Name 'quick one'
        Get-KrTask -Id $id -State
        Get-KrTask -Name 'quick*' | Format-List Id, StateText, Progress

        The state of one task, then the records whose name starts with "quick".
    .EXAMPLE
        Get-KrTask -StateFilter Completed, Failed -Language PowerShell | Remove-KrTask

        Removes the finished PowerShell tasks.
    .INPUTS
        System.String, or any object with an Id property.
    .OUTPUTS
        KrTasks.Task, or System.String with -State.
    .LINK
        Get-KrTaskState
    .LINK
        Wait-KrTask
    #>
    [CmdletBinding(DefaultParameterSetName = 'List')]
    [OutputType('KrTasks.Task')]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'Id', ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [Parameter(ParameterSetName = 'Id')]
        [switch] $State,

        [Parameter(ParameterSetName = 'List')]
        [SupportsWildcards()]
        [string[]] $Name,

        [Parameter(ParameterSetName = 'List')]
        [ValidateSet('NotStarted', 'Queued', 'Running', 'Stopping', 'Completed', 'Failed', 'Stopped')]
        [string[]] $StateFilter,

        [Parameter(ParameterSetName = 'List')]
        [ValidateSet('PowerShell', 'CSharp', 'VBNet')]
        [string[]] $Language,

        [Parameter(ParameterSetName = 'List')]
        [string] $ParentId,

        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        if ($PSCmdlet.ParameterSetName -eq 'Id') {
            foreach ($taskId in $Id) {
                $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Path (Get-KrTasksTaskPath $taskId) -TargetId $taskId
                if (-not $response.Ok) { continue }
                $record = ConvertTo-KrTaskRecord $response.Body
                if ($State) { $record.State } else { $record }
            }
            return
        }

        # One value of a filter goes to the daemon; several are applied here.
        $query = [ordered]@{}
        if ($StateFilter -and $StateFilter.Count -eq 1) { $query.State = $StateFilter[0] }
        if ($Language -and $Language.Count -eq 1) { $query.Language = $Language[0] }
        if ($ParentId) { $query.ParentId = $ParentId }
        $patterns = @(foreach ($n in $Name) { [System.Management.Automation.WildcardPattern]::new($n, 'IgnoreCase') })
        $pageSize = 500
        $offset = 0
        while ($true) {
            $query.Limit = $pageSize
            $query.Offset = $offset
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Path 'tasks' -Query $query
            if (-not $response.Ok) { return }
            $page = @($response.Body)
            foreach ($item in $page) {
                $record = ConvertTo-KrTaskRecord $item
                if ($StateFilter -and $record.State -notin $StateFilter) { continue }
                if ($Language -and $record.Language -notin $Language) { continue }
                if ($patterns.Count -and -not ($patterns | Where-Object { $_.IsMatch($record.Name) })) { continue }
                $record
            }
            $offset += $page.Count
            $more = if ($null -ne $response.TotalCount) { $offset -lt $response.TotalCount } else { $page.Count -eq $pageSize }
            if (-not $more -or $page.Count -eq 0) { break }
        }
    }
}
