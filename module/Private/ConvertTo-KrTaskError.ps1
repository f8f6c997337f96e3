function ConvertTo-KrTaskError {
    <#
    .SYNOPSIS
        Turns the Error field of a record or result ({Type, Message, Category, ...}) into a
        KrTasks.TaskError object; $null stays $null.
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] [AllowNull()] $InputObject)
    if ($null -eq $InputObject) { return $null }
    if ($InputObject -is [string]) { $InputObject = [pscustomobject]@{ Message = $InputObject } }
    $result = [ordered]@{ PSTypeName = 'KrTasks.TaskError' }
    foreach ($name in 'Type', 'Message', 'Category', 'StackTrace', 'Line', 'Column') {
        $result[$name] = Get-KrTasksMember $InputObject $name
    }
    foreach ($property in $InputObject.PSObject.Properties) {
        if (-not $result.Contains($property.Name)) { $result[$property.Name] = $property.Value }
    }
    [pscustomobject]$result
}
