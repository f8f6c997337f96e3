function Add-KrTasks {
    <#
    .SYNOPSIS
        Makes the task feature available: starts (or finds) a local KrTasks daemon, or connects to
        a running one, and makes it the default connection.
    .DESCRIPTION
        Without -Uri, Add-KrTasks looks for a daemon that already answers for the state dir
        (daemon.json there) and connects to it; if none does, it starts `krtasks serve` for that
        state dir, detached from this session (the daemon keeps running after the session ends;
        Stop-KrTasksDaemon stops it), waits up to -StartTimeoutSeconds for it to answer, and
        connects. The bearer token is read from the state dir's token file and the daemon's
        certificate (cert.pem in the state dir) is pinned: the connection trusts that certificate
        and nothing else, so it talks only to that daemon.

        With -Uri, it connects to a running daemon with -Token, pinning -CertificatePath when given
        (else the operating system's trust store applies; -SkipCertificateCheck turns checks off,
        only when asked).

        The connection becomes the module's default; every other cmdlet takes -Connection to use
        another one. The name Add-KrTasksService (Kestrun's) is an alias.
    .PARAMETER StateDir
        The daemon's state directory (certificate, token, daemon.json, daemon.log). Default: the
        daemon's default, $env:KRTASKS_STATE_DIR or the user's data directory
        (~/.local/share/krtasks on Linux).
    .PARAMETER Port
        The TCP port a newly started daemon listens on (loopback); 0 lets it pick a free port.
        Default: the daemon's default ($env:PORT, else 5000). Ignored, with a warning, when a daemon
        already runs for the state dir.
    .PARAMETER MaxRunspaces
        How many tasks a newly started daemon runs at once (at least 1; the daemon's default is 8);
        further started tasks wait in its queue.
    .PARAMETER StartTimeoutSeconds
        How long to wait for a newly started daemon to answer (seconds, default 60).
    .PARAMETER Uri
        The base URL of a running daemon, e.g. https://127.0.0.1:5000.
    .PARAMETER Token
        The bearer token of the daemon at -Uri (`krtasks token` prints it; it is the token file in
        the daemon's state dir). Not needed for a daemon that runs with --auth none.
    .PARAMETER CertificatePath
        The certificate the daemon at -Uri must present (PEM or DER), e.g. its state dir's
        cert.pem. It becomes the only trusted root for this connection. A file without a readable
        certificate is a terminating KrTasks.CertificateUnreadable error.
    .PARAMETER SkipCertificateCheck
        Accept any certificate from the daemon at -Uri. Only for testing: anyone on the path could
        then read the token.
    .PARAMETER PassThru
        Output the connection (a KrTasks.Connection object) for use with -Connection.
    .EXAMPLE
        Add-KrTasks

        Starts a daemon for the default state dir (or connects to the one already running there).
    .EXAMPLE
        $connection = Add-KrTasks -MaxRunspaces 4 -PassThru
        $connection | Format-List Uri, Version, StateDir, Pid

        Keeps the connection to pass it with -Connection later.
    .EXAMPLE
        $local = Add-KrTasks -PassThru
        $token = Get-Content -Raw (Join-Path $local.StateDir 'token')
        Add-KrTasks -Uri $local.Uri -Token $token.Trim() -CertificatePath (Join-Path $local.StateDir 'cert.pem')

        Connects by URL and token, pinning the daemon's certificate, as for a daemon started elsewhere.
    .OUTPUTS
        KrTasks.Connection, with -PassThru.
    .LINK
        Stop-KrTasksDaemon
    .LINK
        New-KrTask
    #>
    [CmdletBinding(DefaultParameterSetName = 'Local')]
    [Alias('Add-KrTasksService')]
    [OutputType('KrTasks.Connection')]
    param(
        [Parameter(ParameterSetName = 'Local')]
        [ValidateNotNullOrEmpty()]
        [string] $StateDir,

        [Parameter(ParameterSetName = 'Local')]
        [ValidateRange(0, 65535)]
        [int] $Port,

        [Parameter(ParameterSetName = 'Local')]
        [ValidateRange(1, 4096)]
        [int] $MaxRunspaces,

        [Parameter(ParameterSetName = 'Local')]
        [ValidateRange(1, 3600)]
        [int] $StartTimeoutSeconds = 60,

        [Parameter(Mandatory, ParameterSetName = 'Remote')]
        [uri] $Uri,

        [Parameter(ParameterSetName = 'Remote')]
        [string] $Token,

        [Parameter(ParameterSetName = 'Remote')]
        [ValidateNotNullOrEmpty()]
        [string] $CertificatePath,

        [Parameter(ParameterSetName = 'Remote')]
        [switch] $SkipCertificateCheck,

        [switch] $PassThru
    )

    if ($PSCmdlet.ParameterSetName -eq 'Remote') {
        if ($CertificatePath -and $SkipCertificateCheck) {
            $message = 'Use -CertificatePath or -SkipCertificateCheck, not both.'
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.ConflictingTrust' -Category InvalidArgument -Message $message `
                -ExceptionType ([System.ArgumentException])
            $PSCmdlet.ThrowTerminatingError($record)
        }
        if (-not $Uri.IsAbsoluteUri -or $Uri.Scheme -notin 'https', 'http') {
            $message = "-Uri must be an absolute http(s) URL such as https://127.0.0.1:5000, not '$Uri'."
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.InvalidUri' -Category InvalidArgument -Message $message -TargetObject $Uri `
                -ExceptionType ([System.ArgumentException])
            $PSCmdlet.ThrowTerminatingError($record)
        }
        # Accept the API root as well as the server root.
        $base = [uri]($Uri.GetLeftPart([System.UriPartial]::Path) -replace '/api/v1/?$', '' -replace '/$', '')
        $pin = $null
        if ($CertificatePath) {
            $pin = $PSCmdlet.GetUnresolvedProviderPathFromPSPath($CertificatePath)
            if (-not (Test-Path -LiteralPath $pin -PathType Leaf)) {
                $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.CertificateNotFound' -Category ObjectNotFound -TargetObject $pin `
                    -Message "The certificate file '$pin' does not exist." -ExceptionType ([System.Management.Automation.ItemNotFoundException])
                $PSCmdlet.ThrowTerminatingError($record)
            }
        }
        $connection = New-KrTasksConnection -Uri $base -Token $Token -CertificatePath $pin -SkipCertificateCheck:$SkipCertificateCheck
        $health = Test-KrTasksDaemon -Connection $connection -TimeoutSeconds 10 -PassThruError
        if ($health -is [System.Exception]) {
            $connection.HttpClient.Dispose()
            $PSCmdlet.ThrowTerminatingError((New-KrTasksErrorRecord -Exception $health -Connection $connection))
        }
        if ($null -eq $health) {
            $connection.HttpClient.Dispose()
            $message = "$base answers, but not as a KrTasks daemon (no /api/v1/health)."
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.NotADaemon' -Category InvalidResult -Message $message -TargetObject $base
            $PSCmdlet.ThrowTerminatingError($record)
        }
        $connection.Version = Get-KrTasksMember $health 'Version'
    }
    else {
        $dir = if ($StateDir) { $PSCmdlet.GetUnresolvedProviderPathFromPSPath($StateDir) } else { Get-KrTasksDefaultStateDir }
        $connection = Connect-KrTasksLocalDaemon -StateDir $dir
        if ($null -ne $connection) {
            Write-Verbose "A KrTasks daemon already answers for $dir at $($connection.Uri); connecting to it."
            if ($PSBoundParameters.ContainsKey('Port') -and $Port -ne 0 -and $connection.Uri.Port -ne $Port) {
                $running = $connection.Uri.Port
                Write-Warning "A KrTasks daemon already runs for $dir on port $running; connected to it instead of starting one on port $Port."
            }
            if ($PSBoundParameters.ContainsKey('MaxRunspaces')) {
                Write-Verbose '-MaxRunspaces applies only to a daemon that Add-KrTasks starts; the running daemon keeps its own.'
            }
        }
        else {
            $start = @{ Caller = $PSCmdlet; StateDir = $dir; TimeoutSeconds = $StartTimeoutSeconds }
            if ($PSBoundParameters.ContainsKey('Port')) { $start.Port = $Port }
            if ($PSBoundParameters.ContainsKey('MaxRunspaces')) { $start.MaxRunspaces = $MaxRunspaces }
            $connection = Start-KrTasksDaemonProcess @start
        }
    }

    # Check the token now rather than at the first task (401 is a terminating error).
    $check = $null
    try {
        $check = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $connection -Path 'tasks' -Query @{ Limit = 1 } -TimeoutSeconds 15
    }
    finally {
        # A connection that is not kept frees its sockets (the daemon keeps running).
        if (-not ($check -and $check.Ok)) { $connection.HttpClient.Dispose() }
    }
    if (-not $check.Ok) { return }
    $script:DefaultConnection = $connection
    if ($PassThru) { $connection }
}
