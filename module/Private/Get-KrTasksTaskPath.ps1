function Get-KrTasksTaskPath {
    <#
    .SYNOPSIS
        The escaped route of one task: tasks/<id>[/<action>].
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Id, [string] $Action)
    $path = 'tasks/' + [uri]::EscapeDataString($Id)
    if ($Action) { $path += "/$Action" }
    $path
}
