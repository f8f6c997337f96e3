function New-KrTasksConnection {
    <#
    .SYNOPSIS
        Creates a KrTasks.Connection: the daemon's URL, its HttpClient and what is known about it.
    .DESCRIPTION
        The token is kept only in the HttpClient's Authorization header, so it is never printed
        with the connection. Received holds, per task id, what Receive-KrTask already handed out.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [uri] $Uri,
        [string] $Token,
        [string] $CertificatePath,
        [switch] $SkipCertificateCheck,
        [string] $StateDir,
        [AllowNull()] $ProcessId,
        [string] $LogPath
    )
    if ($null -eq $ProcessId -and -not $StateDir -and $script:StartedDaemonUris.ContainsKey($Uri.AbsoluteUri)) {
        # A URL of a daemon this session started: it is still that daemon, so it can be stopped from here.
        $known = $script:StartedDaemonUris[$Uri.AbsoluteUri]
        if ($script:StartedDaemons.ContainsKey([int]$known.Pid)) {
            $ProcessId = $known.Pid
            $StateDir = $known.StateDir
        }
    }
    $client = New-KrTasksHttpClient -CertificatePath $CertificatePath -SkipCertificateCheck:$SkipCertificateCheck -Token $Token
    $connection = [pscustomobject]@{
        PSTypeName           = 'KrTasks.Connection'
        Uri                  = $Uri
        Version              = $null
        StateDir             = if ($StateDir) { $StateDir } else { $null }
        Pid                  = if ($null -ne $ProcessId) { [int]$ProcessId } else { $null }
        StartedBySession     = $null -ne $ProcessId -and $script:StartedDaemons.ContainsKey([int]$ProcessId)
        CertificatePath      = if ($CertificatePath) { $CertificatePath } else { $null }
        SkipCertificateCheck = [bool]$SkipCertificateCheck
        LogPath              = if ($LogPath) { $LogPath } else { $null }
        HttpClient           = $client
        Received             = [System.Collections.Generic.Dictionary[string, object]]::new([System.StringComparer]::OrdinalIgnoreCase)
    }
    $connection
}
