function ConvertTo-KrTaskRecord {
    <#
    .SYNOPSIS
        Turns a task record from the daemon's JSON into a KrTasks.Task object.
    .DESCRIPTION
        As Kestrun's records: State becomes a [KrTasks.TaskState] (StateText stays the name), dates
        [DateTimeOffset] in UTC, Duration a [timespan]. Progress becomes a KrTasks.TaskProgress and Error a
        KrTasks.TaskError. Fields this module does not know yet are kept as they come.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $InputObject)
    process {
        if ($null -eq $InputObject) { return }
        $record = [ordered]@{ PSTypeName = 'KrTasks.Task' }
        foreach ($name in 'Id', 'Name', 'Description', 'Language') {
            $record[$name] = [string](Get-KrTasksMember $InputObject $name '')
        }
        $stateName = [string](Get-KrTasksMember $InputObject 'State' '')
        $record.State = ConvertTo-KrTasksState $stateName
        $record.StateText = [string](Get-KrTasksMember $InputObject 'StateText' $stateName)
        foreach ($name in 'CreatedAt', 'StartedAt', 'CompletedAt') {
            $record[$name] = ConvertTo-KrTasksDate (Get-KrTasksMember $InputObject $name)
        }
        $record.Duration = ConvertTo-KrTasksTimeSpan (Get-KrTasksMember $InputObject 'Duration')
        $progress = Get-KrTasksMember $InputObject 'Progress'
        $record.Progress = [pscustomobject]@{
            PSTypeName       = 'KrTasks.TaskProgress'
            PercentComplete  = [int](Get-KrTasksMember $progress 'PercentComplete' 0)
            StatusMessage    = [string](Get-KrTasksMember $progress 'StatusMessage' '')
            Activity         = Get-KrTasksMember $progress 'Activity'
            CurrentOperation = Get-KrTasksMember $progress 'CurrentOperation'
            SecondsRemaining = Get-KrTasksMember $progress 'SecondsRemaining'
        }
        $record.ParentId = [string](Get-KrTasksMember $InputObject 'ParentId' '')
        $record.ChildrenId = [string[]]@(Get-KrTasksMember $InputObject 'ChildrenId')
        $record.TimeoutSeconds = Get-KrTasksMember $InputObject 'TimeoutSeconds'
        $record.Error = ConvertTo-KrTaskError (Get-KrTasksMember $InputObject 'Error')
        foreach ($property in $InputObject.PSObject.Properties) {
            if (-not $record.Contains($property.Name)) { $record[$property.Name] = $property.Value }
        }
        [pscustomobject]$record
    }
}
