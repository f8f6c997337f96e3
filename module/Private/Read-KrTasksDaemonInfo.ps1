function Read-KrTasksDaemonInfo {
    <#
    .SYNOPSIS
        Reads daemon.json of a state dir ({Pid, Port, Host, Url, Version, StartedAt, ...}); $null
        when it is missing or unreadable (the daemon writes it atomically once it answers).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $StateDir)
    $path = Join-Path $StateDir 'daemon.json'
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { return $null }
    try {
        $info = [System.IO.File]::ReadAllText($path) | ConvertFrom-Json -ErrorAction Stop
        if (-not (Get-KrTasksMember $info 'Url')) { return $null }
        $info
    }
    catch {
        Write-Verbose "Ignoring unreadable ${path}: $($_.Exception.Message)"
        $null
    }
}
