function Get-KrTask {
    <#
    .SYNOPSIS
        Gets task records from the KrTasks daemon: all of them, filtered ones, or by id.
    .DESCRIPTION
        Without -Id (or with an empty, $null or blank -Id, as in Kestrun), outputs every task, newest
        first, optionally filtered by name (wildcards), state, language and parent; -State alone is
        ignored there, as Kestrun does. With -Id, outputs the record of each task; with -Id and
        -State, only its state, a [KrTasks.TaskState]. An unknown id outputs nothing ($null, as
        Kestrun's Get-KrTask) and writes no error record, so a script under
        $ErrorActionPreference = 'Stop' keeps running; -Verbose says why, and an explicit
        -ErrorAction also writes the ObjectNotFound error.

        A record (type KrTasks.Task) carries Id, Name, Description, Language, State (a
        [KrTasks.TaskState]: NotStarted 0, Running 1, Completed 2, Failed 3, Stopped 4, Stopping 5,
        Queued 6; it compares with names and numbers), StateText (the state's name), CreatedAt,
        StartedAt, CompletedAt ([DateTimeOffset], UTC), Duration ([timespan]), Progress
        (PercentComplete, StatusMessage, Activity, CurrentOperation, SecondsRemaining), ParentId,
        ChildrenId, TimeoutSeconds and Error (Type, Message, Category, StackTrace, Line, Column,
        for a failed task).
    .PARAMETER Id
        The id of a task (case-insensitive); from the pipeline as strings or by property name.
        Empty, $null or blank: all tasks.
    .PARAMETER State
        With -Id: output only the task's state (Kestrun's Get-KrTask -Id -State). Without -Id it is
        ignored.
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
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline, so
        $server | Get-KrTask lists its tasks). -Server, Kestrun's name, is an alias. Default: the
        default connection.
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
    .EXAMPLE
        $ErrorActionPreference = 'Stop'
        $task = Get-KrTask -Id 'no-such-task'
        if ($null -eq $task) { 'Task not found' }

        Kestrun's way to test for a task: $null for an unknown id, and no error.
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
    .OUTPUTS
        KrTasks.Task, or KrTasks.TaskState with -State.
    .LINK
        Get-KrTaskState
    .LINK
        Wait-KrTask
    #>
    [CmdletBinding(DefaultParameterSetName = 'List')]
    [OutputType('KrTasks.Task')]
    [OutputType('KrTasks.TaskState')]
    param(
        [Parameter(Position = 0, ParameterSetName = 'Id', ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [AllowNull()]
        [AllowEmptyString()]
        [AllowEmptyCollection()]
        [string[]] $Id,

        [Parameter(ParameterSetName = 'Id')]
        [Parameter(ParameterSetName = 'List')]
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

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        $ids = @(Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_)
        if ($ids.Count -gt 0) {
            foreach ($taskId in $ids) {
                $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Path (Get-KrTasksTaskPath $taskId) -TargetId $taskId -Handled 404
                if ($response.Status -eq 404) { Write-KrTasksSoftFailure -Caller $PSCmdlet -NotFoundId $taskId }
                if (-not $response.Ok) { continue }
                $record = ConvertTo-KrTaskRecord $response.Body
                if ($State) { $record.State } else { $record }
            }
            return
        }
        # No id (or only blank ones): every task, as Kestrun; -State does not apply to a list.

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
