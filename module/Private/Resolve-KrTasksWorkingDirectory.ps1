function Resolve-KrTasksWorkingDirectory {
    <#
    .SYNOPSIS
        The full file system path New-KrTask sends as a task's WorkingDirectory.
    .DESCRIPTION
        A relative path is resolved against the caller's current file system location (also when the
        current location is on another provider, such as Env:), ~ against $HOME, and a drive-qualified path
        (TestDrive:\x) through its drive. Whether the directory exists is the daemon's to say (a 422 naming
        WorkingDirectory). A path on another provider (Env:\x) is a terminating KrTasks.InvalidRequest error
        of -Caller that names the field, as the daemon's refusals do.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [string] $Path
    )
    $sessionPath = $Caller.SessionState.Path
    if ($Path -eq '~' -or $Path -match '^~[\\/]') { $Path = $HOME + $Path.Substring(1) }
    $driveName = $null
    if (-not [System.IO.Path]::IsPathRooted($Path) -and -not $sessionPath.IsPSAbsolute($Path, [ref]$driveName)) {
        return [System.IO.Path]::GetFullPath($Path, $sessionPath.CurrentFileSystemLocation.ProviderPath)
    }
    $provider = $drive = $null
    $resolved = $sessionPath.GetUnresolvedProviderPathFromPSPath($Path, [ref]$provider, [ref]$drive)
    if ($provider.Name -ne 'FileSystem') {
        $message = "WorkingDirectory: '$Path' is a path of the $($provider.Name) provider, not a directory."
        $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.InvalidRequest' -Category InvalidArgument -Message $message -TargetObject $Path `
            -ExceptionType ([System.ArgumentException])
        $Caller.ThrowTerminatingError($record)
    }
    $resolved
}
