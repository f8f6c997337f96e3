function Get-KrTasksMember {
    <#
    .SYNOPSIS
        Reads a member of a parsed JSON object (or dictionary) under strict mode, with a default.
    .DESCRIPTION
        Set-StrictMode makes a missing property an error; daemon answers and problems may omit
        optional fields, so every optional read goes through here. Arrays come back whole.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)] [AllowNull()] $InputObject,
        [Parameter(Mandatory, Position = 1)] [string] $Name,
        [Parameter(Position = 2)] [AllowNull()] $Default = $null
    )
    if ($null -eq $InputObject) { return $Default }
    $value = $Default
    if ($InputObject -is [System.Collections.IDictionary]) {
        if ($InputObject.Contains($Name)) { $value = $InputObject[$Name] }
    }
    else {
        $property = $InputObject.PSObject.Properties[$Name]
        if ($null -ne $property) { $value = $property.Value }
    }
    if ($null -eq $value) { return $null }
    # The unary comma keeps an array from being unrolled into the pipeline.
    if ($value -is [array]) { return , $value }
    $value
}
