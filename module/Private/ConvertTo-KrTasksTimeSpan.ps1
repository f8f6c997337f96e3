function ConvertTo-KrTasksTimeSpan {
    <#
    .SYNOPSIS
        Parses a duration from the daemon ("[d.]hh:mm:ss.fffffff", or seconds as a number) into a
        [timespan]; $null stays $null.
    #>
    [CmdletBinding()]
    [OutputType([timespan])]
    param([Parameter(Position = 0)] [AllowNull()] $Value)
    if ($null -eq $Value -or ($Value -is [string] -and -not $Value.Trim())) { return $null }
    if ($Value -is [timespan]) { return $Value }
    if ($Value -is [double] -or $Value -is [int] -or $Value -is [long] -or $Value -is [decimal]) {
        return [timespan]::FromSeconds([double]$Value)
    }
    [timespan]::Parse([string]$Value, [cultureinfo]::InvariantCulture)
}
