function Write-KrTasksOutput {
    <#
    .SYNOPSIS
        Outputs the Output of a /result answer (deserialized CliXml or parsed JSON): each item of a list (a
        PowerShell task's output objects), or the single value a C# or VB task returned.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] $Body)
    if ($null -eq $Body -or $Body -is [string]) { return }
    $output = $null
    if ($Body -is [System.Collections.IDictionary]) { $output = $Body['Output'] }
    elseif ($Body.PSObject.Properties['Output']) { $output = $Body.PSObject.Properties['Output'].Value }
    if ($null -eq $output) { return }
    # One level only: an item that is itself a list stays one object, as the task output it.
    if ($output -is [System.Collections.IList]) {
        foreach ($item in $output) { , $item }
    }
    else {
        $output
    }
}
