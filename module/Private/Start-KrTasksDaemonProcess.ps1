function Start-KrTasksDaemonProcess {
    <#
    .SYNOPSIS
        Starts `krtasks serve` for a state dir, detached from this session, and waits until it
        answers; returns the connection to it.
    .DESCRIPTION
        The daemon outlives the session (it is a daemon: the next Add-KrTasks connects to it), so
        its output goes to <state dir>/daemon.log rather than to a pipe this session would have to
        drain. On Unix /bin/sh redirects and then execs the CLI (setsid, when present, takes it out
        of the terminal's session so closing the terminal does not hang it up); the pid stays the
        daemon's. On Windows the output is copied to the log by .NET (no script block involved).
        Readiness: /health answers at the URL of the ready line or of a fresh daemon.json.
        Failures are terminating errors of -Caller that quote the end of the log.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [string] $StateDir,
        [AllowNull()] [Nullable[int]] $Port,
        [AllowNull()] [Nullable[int]] $MaxRunspaces,
        [double] $TimeoutSeconds = 60
    )
    $cli = Find-KrTasksCli
    if (-not $cli) {
        $message = 'Cannot find the krtasks daemon executable: set $env:KRTASKS_CLI, put krtasks on PATH, or build the repository ' +
        '(dotnet pwsh ./build.ps1) so that .venv/bin/krtasks exists.'
        $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.CliNotFound' -Category ObjectNotFound -Message $message -TargetObject 'krtasks' `
            -ExceptionType ([System.Management.Automation.CommandNotFoundException])
        $Caller.ThrowTerminatingError($record)
    }
    # The log lives in the state dir, so it must exist before the daemon (which would create it) runs.
    try {
        if (Test-Path -LiteralPath $StateDir -PathType Leaf) { throw [System.IO.IOException]::new('it is a file') }
        $null = New-Item -ItemType Directory -Path $StateDir -Force -ErrorAction Stop
    }
    catch {
        $message = "Cannot use '$StateDir' as the KrTasks state dir: $($_.Exception.Message)"
        $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.StateDirUnusable' -Category WriteError -Message $message -TargetObject $StateDir `
            -ExceptionType ([System.IO.IOException]) -InnerException $_.Exception
        $Caller.ThrowTerminatingError($record)
    }
    $log = Join-Path $StateDir 'daemon.log'
    $arguments = [System.Collections.Generic.List[string]]::new()
    $arguments.AddRange([string[]]@('serve', '--state-dir', $StateDir))
    if ($null -ne $Port) { $arguments.AddRange([string[]]@('--port', [string]$Port)) }
    if ($null -ne $MaxRunspaces) { $arguments.AddRange([string[]]@('--max-runspaces', [string]$MaxRunspaces)) }

    if ($IsWindows) {
        $psi = [System.Diagnostics.ProcessStartInfo]::new($cli)
        foreach ($a in $arguments) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.RedirectStandardInput = $true
        $psi.CreateNoWindow = $true
    }
    else {
        $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
        $psi.ArgumentList.Add('-c')
        # Append: another daemon of this state dir (a lost race) may still be writing the same log.
        $psi.ArgumentList.Add('exec "$@" >>"$KRTASKS_DAEMON_LOG" 2>&1 </dev/null')
        $psi.ArgumentList.Add('krtasks')
        $setsid = Get-Command -Name 'setsid' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($setsid) { $psi.ArgumentList.Add($setsid.Source) }
        $psi.ArgumentList.Add($cli)
        foreach ($a in $arguments) { $psi.ArgumentList.Add($a) }
        $psi.Environment['KRTASKS_DAEMON_LOG'] = $log
    }
    $psi.UseShellExecute = $false
    $psi.Environment['PYTHONUNBUFFERED'] = '1'
    # Only what this start writes to the log is quoted in errors.
    $logOffset = if (Test-Path -LiteralPath $log) { (Get-Item -LiteralPath $log).Length } else { 0 }
    Write-Verbose "Starting $cli $($arguments -join ' ') (log: $log)"
    $launchedAt = [datetime]::UtcNow
    $process = [System.Diagnostics.Process]::Start($psi)
    if ($IsWindows) {
        $stream = [System.IO.FileStream]::new($log, 'Append', 'Write', 'ReadWrite')
        # Two copies write into one file: the synchronized wrapper serialises them.
        $shared = [System.IO.Stream]::Synchronized($stream)
        $null = $process.StandardOutput.BaseStream.CopyToAsync($shared)
        $null = $process.StandardError.BaseStream.CopyToAsync($shared)
        $script:DaemonLogStreams.Add($stream)
    }
    $script:StartedDaemons[$process.Id] = $process

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $lastError = 'no answer yet'
    # Set when another daemon won the race for the state dir: then wait for that one instead.
    $otherDaemon = $false
    while ($watch.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
        if (-not $otherDaemon -and $process.HasExited) {
            $null = $script:StartedDaemons.Remove($process.Id)
            $tail = Get-KrTasksLogTail -Path $log -Offset $logOffset
            if ($tail -match 'already uses the state dir') {
                Write-Verbose "Another KrTasks daemon is starting for $StateDir; waiting for it instead."
                $otherDaemon = $true
                continue
            }
            $message = "The KrTasks daemon exited during start-up (exit code $($process.ExitCode)). " +
            "Its log ($log) ends with:$([Environment]::NewLine)$tail"
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.DaemonStartFailed' -Category OpenError -Message $message -TargetObject $StateDir
            $Caller.ThrowTerminatingError($record)
        }
        $info = Read-KrTasksDaemonInfo -StateDir $StateDir
        $fresh = $null -ne $info -and ($otherDaemon -or
            [int](Get-KrTasksMember $info 'Pid' 0) -eq $process.Id -or
            [System.IO.File]::GetLastWriteTimeUtc((Join-Path $StateDir 'daemon.json')) -ge $launchedAt.AddSeconds(-1))
        if ($fresh) {
            $connection = Connect-KrTasksLocalDaemon -StateDir $StateDir -DaemonInfo $info -LogPath $log
            if ($null -ne $connection -and $otherDaemon) { return $connection }
            if ($null -ne $connection) {
                $connection.StartedBySession = $true
                $script:StartedDaemonUris[$connection.Uri.AbsoluteUri] = @{ Pid = [int]$connection.Pid; StateDir = $StateDir }
                if ($connection.Pid -ne $process.Id) {
                    # A launcher (Windows krtasks.exe) runs the daemon as its child: remember both.
                    $script:StartedDaemons[[int]$connection.Pid] = $process
                }
                Write-Verbose "KrTasks daemon $($connection.Version) answers at $($connection.Uri) after $([int]$watch.Elapsed.TotalMilliseconds) ms."
                return $connection
            }
            $lastError = 'daemon.json is there but /health does not answer yet'
        }
        Start-Sleep -Milliseconds 200
    }
    # Not ready in time: do not leave a half-started daemon behind.
    try { if (-not $process.HasExited) { $process.Kill($true) } } catch { Write-Verbose "Kill failed: $($_.Exception.Message)" }
    $null = $script:StartedDaemons.Remove($process.Id)
    $tail = Get-KrTasksLogTail -Path $log -Offset $logOffset
    $what = if ($otherDaemon) { 'Another KrTasks daemon holds the state dir but' } else { 'The KrTasks daemon was stopped: it' }
    $message = "$what did not answer within $TimeoutSeconds s ($lastError). Its log ($log) ends with:$([Environment]::NewLine)$tail"
    $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.DaemonStartTimeout' -Category OperationTimeout -Message $message -TargetObject $StateDir `
        -ExceptionType ([System.TimeoutException])
    $Caller.ThrowTerminatingError($record)
}
