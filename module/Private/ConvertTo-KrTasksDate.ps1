function ConvertTo-KrTasksDate {
    <#
    .SYNOPSIS
        Parses an ISO 8601 timestamp from the daemon into a [datetime] of kind Utc ($null stays $null).
    #>
    [CmdletBinding()]
    [OutputType([datetime])]
    param([Parameter(Position = 0)] [AllowNull()] $Value)
    if ($null -eq $Value -or ($Value -is [string] -and -not $Value.Trim())) { return $null }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    if ($Value -is [System.DateTimeOffset]) { return $Value.UtcDateTime }
    $styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
    [datetime]::Parse([string]$Value, [cultureinfo]::InvariantCulture, $styles)
}
