function Receive-KrTasksStream {
    <#
    .SYNOPSIS
        The polling loop of Receive-KrTask: writes one task's stream records (through -Caller) from where the
        connection's last Receive-KrTask stopped; with -Wait, until the task has finished.
    .DESCRIPTION
        Pages /streams from the cursor (0 with -Keep) until a page comes back empty; with -Wait it then holds
        on /wait for up to a second, shows the task's progress, and reads again, until the task has finished
        (one more pass reads the records written up to the end). The id may name another task than the one
        read before (that one was removed and the id reused): its CreatedAt tells, and reading starts over.

        Returns the connection's receive state of the task ({Next, OutputTaken, CreatedAt}, kept in
        $Connection.Received unless -Keep), or $null for an unknown id (written as an error of -Caller).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Connection,
        [Parameter(Mandatory)] [string] $TaskId,
        [switch] $Keep,
        [switch] $Wait
    )
    $state = $null
    if (-not $Connection.Received.TryGetValue($TaskId, [ref]$state)) {
        $state = [pscustomobject]@{ Next = 0; OutputTaken = $false; CreatedAt = $null }
    }
    $cursor = if ($Keep) { 0 } else { $state.Next }
    $progressId = Get-Random -Minimum 100000 -Maximum 900000
    $record = $null
    $api = @{ Caller = $Caller; Connection = $Connection; TargetId = $TaskId }
    try {
        while ($true) {
            # The daemon pages stream records: read until a page comes back empty.
            do {
                $streams = Invoke-KrTasksApi @api -Path (Get-KrTasksTaskPath $TaskId 'streams') -Query @{ Since = $cursor }
                if (-not $streams.Ok) { return $null }
                $createdAt = [string](Get-KrTasksMember $streams.Body 'CreatedAt' '')
                if ($state.CreatedAt -ne $createdAt) {
                    # The id names another task now (the one read before was removed): start over.
                    $stale = $null -ne $state.CreatedAt -and $cursor -gt 0
                    $state = [pscustomobject]@{ Next = 0; OutputTaken = $false; CreatedAt = $createdAt }
                    if ($stale) {
                        $cursor = 0
                        $items = @($null)  # read again from the first record
                        continue
                    }
                }
                $items = @(Get-KrTasksMember $streams.Body 'Records')
                foreach ($item in $items) {
                    Write-KrTasksStreamRecord -Caller $Caller -Record $item -TaskId $TaskId
                }
                $cursor = [int](Get-KrTasksMember $streams.Body 'Next' $cursor)
            } while ($items.Count -gt 0)
            if (-not $Wait) { break }
            if ($null -ne $record -and $record.State -in $script:FinishedStates) { break }
            # Hold until the task finishes or a second passes, then fetch the new records.
            $polled = Invoke-KrTasksApi @api -Path (Get-KrTasksTaskPath $TaskId 'wait') -Query @{ Timeout = 1 } -TimeoutSeconds 40
            if (-not $polled.Ok) { return $null }
            $record = ConvertTo-KrTaskRecord $polled.Body
            # One more pass reads the records written up to the end.
            if ($record.State -notin $script:FinishedStates) { Write-KrTasksProgress -Record $record -ProgressId $progressId }
        }
    }
    finally {
        if ($Wait) { Write-Progress -Id $progressId -Activity 'KrTasks' -Completed }
    }
    if (-not $Keep) {
        $state.Next = $cursor
        $Connection.Received[$TaskId] = $state
    }
    $state
}
