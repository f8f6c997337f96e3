function Get-KrTasksMember {
    <#
    .SYNOPSIS
        Reads a member of a parsed JSON object (or dictionary) under strict mode, with a default.
    .DESCRIPTION
        Set-StrictMode makes a missing property an error; daemon answers and problems may omit
        optional fields, so every optional read goes through here. Like any command it unrolls an
        array value and outputs nothing for $null: wrap it in @() where a list is expected.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)] [AllowNull()] $InputObject,
        [Parameter(Mandatory, Position = 1)] [string] $Name,
        [Parameter(Position = 2)] [AllowNull()] $Default = $null
    )
    $value = $Default
    if ($null -ne $InputObject) {
        if ($InputObject -is [System.Collections.IDictionary]) {
            if ($InputObject.Contains($Name)) { $value = $InputObject[$Name] }
        }
        elseif ($InputObject -isnot [string]) {
            $property = $InputObject.PSObject.Properties[$Name]
            if ($null -ne $property) { $value = $property.Value }
        }
    }
    if ($null -ne $value) { $value }
}
