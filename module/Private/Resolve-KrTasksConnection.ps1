function Resolve-KrTasksConnection {
    <#
    .SYNOPSIS
        The connection a cmdlet uses: -Connection, else the module's default, else a daemon already
        running in the default state dir (connected to quietly). Otherwise a terminating error of
        the caller that says how to start one.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [AllowNull()] $Connection
    )
    # Every cmdlet's -Connection is [PSTypeName('KrTasks.Connection')]: binding has refused anything else.
    if ($null -ne $Connection) { return $Connection }
    if ($null -ne $script:DefaultConnection) { return $script:DefaultConnection }
    # A daemon someone already started (krtasks serve, another session) is used as-is; never start one implicitly.
    $found = Connect-KrTasksLocalDaemon -StateDir (Get-KrTasksDefaultStateDir)
    if ($null -ne $found) {
        $script:DefaultConnection = $found
        return $found
    }
    $message = 'No KrTasks daemon is connected. Run Add-KrTasks to start one (or to connect to a running daemon with -Uri and -Token), then retry.'
    $Caller.ThrowTerminatingError((New-KrTasksErrorRecord -ErrorId 'KrTasks.NotConnected' -Category ConnectionError -Message $message))
}
