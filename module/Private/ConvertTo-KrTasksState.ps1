function ConvertTo-KrTasksState {
    <#
    .SYNOPSIS
        Turns a state from the daemon (its name, or Kestrun's number) into a [KrTasks.TaskState].
    .DESCRIPTION
        A name this module does not know (a newer daemon's state) stays a string rather than failing
        the whole record; $null and '' give $null.
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] [AllowNull()] $Value)
    if ($null -eq $Value -or ($Value -is [string] -and -not $Value.Trim())) { return $null }
    $state = $Value -as [KrTasks.TaskState]
    if ($null -ne $state -and [enum]::IsDefined([KrTasks.TaskState], $state)) { return $state }
    [string]$Value
}
