function Write-KrTasksOutput {
    <#
    .SYNOPSIS
        Outputs the Output of a /result answer: each item of a list (a PowerShell task's output
        objects), or the single value a C# or VB task returned.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] $Body)
    if ($null -eq $Body -or $Body -is [string]) { return }
    $property = $Body.PSObject.Properties['Output']
    if ($null -eq $property -or $null -eq $property.Value) { return }
    # One level only: an item that is itself a list stays one object, as the task output it.
    if ($property.Value -is [array]) {
        foreach ($item in $property.Value) { , $item }
    }
    else {
        $property.Value
    }
}
