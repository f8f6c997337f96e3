function ConvertTo-KrTasksDate {
    <#
    .SYNOPSIS
        Parses an ISO 8601 timestamp from the daemon into a [DateTimeOffset] in UTC (offset 0), as
        Kestrun's records carry; $null stays $null.
    #>
    [CmdletBinding()]
    [OutputType([System.DateTimeOffset])]
    param([Parameter(Position = 0)] [AllowNull()] $Value)
    if ($null -eq $Value -or ($Value -is [string] -and -not $Value.Trim())) { return $null }
    if ($Value -is [System.DateTimeOffset]) { return $Value.ToUniversalTime() }
    if ($Value -is [datetime]) {
        $utc = if ($Value.Kind -eq 'Unspecified') { [datetime]::SpecifyKind($Value, 'Utc') } else { $Value.ToUniversalTime() }
        return [System.DateTimeOffset]::new($utc)
    }
    $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal
    [System.DateTimeOffset]::Parse([string]$Value, [cultureinfo]::InvariantCulture, $styles).ToUniversalTime()
}
