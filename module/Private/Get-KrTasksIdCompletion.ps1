function Get-KrTasksIdCompletion {
    <#
    .SYNOPSIS
        Completion results for -Id: the daemon's task ids whose id or name matches what was typed.
    .DESCRIPTION
        Uses -Connection (or its alias -Server) from the command line when given, else the default connection; never
        starts or connects to a daemon and never writes errors (a completer must stay quiet).
        The list shows "id (name)"; the tooltip adds the state.
    #>
    [CmdletBinding()]
    param([string] $WordToComplete, [System.Collections.IDictionary] $FakeBoundParameters)
    $connection = $script:DefaultConnection
    foreach ($name in 'Connection', 'Server') {
        if ($FakeBoundParameters -and $FakeBoundParameters.Contains($name)) { $connection = $FakeBoundParameters[$name] }
    }
    if ($null -eq $connection -or $connection.PSObject.TypeNames -notcontains 'KrTasks.Connection') { return }
    $word = $WordToComplete.Trim([char[]]"'`"")
    try {
        $raw = Send-KrTasksRequest -Connection $connection -Path 'tasks' -Query @{ Limit = 200 } -TimeoutSeconds 3
        $response = Read-KrTasksResponse -Response $raw
    }
    catch { return }
    if (-not $response.Ok) { return }
    $wildcard = [System.Management.Automation.WildcardPattern]
    $pattern = $wildcard::new("$($wildcard::Escape($word))*", 'IgnoreCase')
    $namePattern = $wildcard::new("*$($wildcard::Escape($word))*", 'IgnoreCase')
    foreach ($task in @($response.Body)) {
        $id = [string](Get-KrTasksMember $task 'Id' '')
        $name = [string](Get-KrTasksMember $task 'Name' '')
        if (-not $id -or -not ($pattern.IsMatch($id) -or ($word -and $namePattern.IsMatch($name)))) { continue }
        $text = if ($id -match '^[\w.-]+$') { $id } else { "'" + $id.Replace("'", "''") + "'" }
        $tooltip = '{0} [{1}]' -f $name, (Get-KrTasksMember $task 'State' '')
        [System.Management.Automation.CompletionResult]::new($text, "$id ($name)", 'ParameterValue', $tooltip)
    }
}
