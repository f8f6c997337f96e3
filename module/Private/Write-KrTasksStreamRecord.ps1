function Write-KrTasksStreamRecord {
    <#
    .SYNOPSIS
        Writes one stream record of a task ({Index, Stream, Message, Time}) to the matching stream
        of the calling cmdlet.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Record,
        [Parameter(Mandatory)] [string] $TaskId
    )
    $message = [string](Get-KrTasksMember $Record 'Message' '')
    switch ([string](Get-KrTasksMember $Record 'Stream' '')) {
        'Error' {
            # RemoteException: what Receive-Job gives for an error raised somewhere else.
            $remote = [System.Management.Automation.RemoteException]
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.TaskError' -Category NotSpecified -Message $message -TargetObject $TaskId `
                -ExceptionType $remote
            $Caller.WriteError($record)
        }
        'Warning' { $Caller.WriteWarning($message) }
        'Verbose' { $Caller.WriteVerbose($message) }
        'Debug' { $Caller.WriteDebug($message) }
        'Information' {
            $info = [System.Management.Automation.InformationRecord]::new($message, "KrTasks:$TaskId")
            $time = ConvertTo-KrTasksDate (Get-KrTasksMember $Record 'Time')
            if ($null -ne $time) { $info.TimeGenerated = $time.LocalDateTime }
            $Caller.WriteInformation($info)
        }
        default { $Caller.WriteVerbose("[$_] $message") }
    }
}
