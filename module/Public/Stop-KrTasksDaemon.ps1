function Stop-KrTasksDaemon {
    <#
    .SYNOPSIS
        Stops the KrTasks daemon that this session started (the default connection's daemon).
    .DESCRIPTION
        Runs `krtasks stop` for the daemon's state dir, which cancels its running tasks (with the
        daemon's grace period) and waits for it to exit; if that does not end the daemon within
        -TimeoutSeconds, a daemon this session started is killed. The connection is closed and,
        if it was the default one, the module has no default connection afterwards.

        A daemon this session did not start (one found running by Add-KrTasks) is stopped only
        with -Force, so one session does not pull the daemon from under another by accident.
        A daemon reached only by -Uri (no state dir known) cannot be stopped from here; run
        `krtasks stop` where it runs.
    .PARAMETER Connection
        The connection whose daemon to stop (from Add-KrTasks -PassThru; also from the pipeline).
        -Server is an alias. Default: the default connection.
    .PARAMETER Force
        Also stop a local daemon that this session did not start.
    .PARAMETER TimeoutSeconds
        How long to wait for the daemon to exit (seconds, default 30).
    .EXAMPLE
        Stop-KrTasksDaemon -WhatIf

        Shows which daemon would be stopped.
    .EXAMPLE
        Stop-KrTasksDaemon

        Stops the daemon that Add-KrTasks started in this session.
    .OUTPUTS
        None.
    .LINK
        Add-KrTasks
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType([void])]
    param(
        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection,

        [switch] $Force,

        [ValidateRange(1, 600)]
        [int] $TimeoutSeconds = 30
    )
    process {
        $target = if ($Connection) { $Connection } else { $script:DefaultConnection }
        if ($null -eq $target) {
            $message = 'No KrTasks daemon is connected; there is nothing to stop. ' +
            '(Add-KrTasks -PassThru returns a connection to pass with -Connection.)'
            $PSCmdlet.WriteError((New-KrTasksErrorRecord -ErrorId 'KrTasks.NotConnected' -Category ConnectionError -Message $message))
            return
        }
        $daemonPid = $target.Pid
        $owned = $null -ne $daemonPid -and $script:StartedDaemons.ContainsKey([int]$daemonPid)
        $description = "KrTasks daemon at $($target.Uri)" + $(if ($null -ne $daemonPid) { " (pid $daemonPid)" } else { '' })
        if (-not $target.StateDir) {
            $message = "The $description was reached by URL only; stop it where it runs (krtasks stop --state-dir <dir>)."
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.RemoteDaemon' -Category InvalidOperation -Message $message -TargetObject $target
            $PSCmdlet.WriteError($record)
            return
        }
        if (-not $owned -and -not $Force) {
            $message = "This session did not start the $description; use -Force to stop it anyway."
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.NotStartedBySession' -Category InvalidOperation -Message $message -TargetObject $target
            $PSCmdlet.WriteError($record)
            return
        }
        if (-not $PSCmdlet.ShouldProcess($description, 'Stop')) { return }

        $process = if ($owned) { $script:StartedDaemons[[int]$daemonPid] } else { $null }
        $cli = Find-KrTasksCli
        $stopped = $false
        if ($cli) {
            # krtasks stop asks the daemon to shut down gracefully and waits for it.
            $psi = [System.Diagnostics.ProcessStartInfo]::new($cli)
            foreach ($a in 'stop', '--state-dir', $target.StateDir) { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $stopper = [System.Diagnostics.Process]::Start($psi)
            $outputTask = $stopper.StandardOutput.ReadToEndAsync()
            $errorTask = $stopper.StandardError.ReadToEndAsync()
            if ($stopper.WaitForExit($TimeoutSeconds * 1000)) {
                $stopped = $stopper.ExitCode -eq 0
                Write-Verbose "krtasks stop exited with $($stopper.ExitCode): $($outputTask.Result.Trim()) $($errorTask.Result.Trim())"
            }
            else {
                try { $stopper.Kill($true) } catch { Write-Verbose "Could not end krtasks stop: $($_.Exception.Message)" }
            }
            $stopper.Dispose()
        }
        if ($null -ne $process) {
            if (-not $process.WaitForExit($(if ($stopped) { $TimeoutSeconds * 1000 } else { 0 }))) {
                Write-Warning "The $description did not stop in time; killing it."
                try { $process.Kill($true) } catch { Write-Verbose "Kill failed: $($_.Exception.Message)" }
                $null = $process.WaitForExit(10000)
            }
            $stopped = $process.HasExited
            foreach ($key in @($script:StartedDaemons.Keys)) {
                if ($script:StartedDaemons[$key] -eq $process) { $null = $script:StartedDaemons.Remove($key) }
            }
        }
        if (-not $stopped) {
            $message = "Could not stop the $description (krtasks stop failed or is not available)."
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.StopFailed' -Category InvalidResult -Message $message -TargetObject $target
            $PSCmdlet.WriteError($record)
            return
        }
        $target.HttpClient.Dispose()
        if ($null -ne $script:DefaultConnection -and $script:DefaultConnection.Uri -eq $target.Uri) {
            $script:DefaultConnection = $null
        }
    }
}
