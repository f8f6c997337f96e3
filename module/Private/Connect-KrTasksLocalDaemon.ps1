function Connect-KrTasksLocalDaemon {
    <#
    .SYNOPSIS
        Connects to the daemon that runs for a state dir, if one answers there; else $null.
    .DESCRIPTION
        Reads daemon.json for the URL, pins the state dir's certificate (or the CertFile the
        daemon reports), reads the token file, and checks /health. Writes no errors.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $StateDir,
        [string] $LogPath,
        [AllowNull()] $DaemonInfo
    )
    $info = if ($DaemonInfo) { $DaemonInfo } else { Read-KrTasksDaemonInfo -StateDir $StateDir }
    if ($null -eq $info) { return $null }
    $certificate = Get-KrTasksMember $info 'CertFile'
    if (-not $certificate -or -not (Test-Path -LiteralPath $certificate -PathType Leaf)) { $certificate = Join-Path $StateDir 'cert.pem' }
    $uri = [uri](Get-KrTasksMember $info 'Url')
    if ($uri.Scheme -eq 'https' -and -not (Test-Path -LiteralPath $certificate -PathType Leaf)) { return $null }
    $tokenPath = Join-Path $StateDir 'token'
    $token = if ((Get-KrTasksMember $info 'Auth' 'token') -ne 'none' -and (Test-Path -LiteralPath $tokenPath -PathType Leaf)) {
        [System.IO.File]::ReadAllText($tokenPath).Trim()
    }
    $pin = if ($uri.Scheme -eq 'https') { $certificate }
    $daemonPid = Get-KrTasksMember $info 'Pid'
    $connection = New-KrTasksConnection -Uri $uri -Token $token -CertificatePath $pin -StateDir $StateDir -ProcessId $daemonPid -LogPath $LogPath
    $health = Test-KrTasksDaemon -Connection $connection
    if ($null -eq $health) {
        $connection.HttpClient.Dispose()
        return $null
    }
    $connection.Version = Get-KrTasksMember $health 'Version' (Get-KrTasksMember $info 'Version')
    $connection
}
