# KrTasks module loader: private helpers first, then one public cmdlet per file.
Set-StrictMode -Version 3.0

$script:ModuleRoot = $PSScriptRoot
# The manifest's version is not applied yet while the .psm1 runs, so read it from the file.
$script:ModuleVersion = (Import-PowerShellDataFile -Path (Join-Path $PSScriptRoot 'KrTasks.psd1')).ModuleVersion
# The connection cmdlets use when -Connection is not given (set by Add-KrTasks).
$script:DefaultConnection = $null
# Daemons this session started (pid -> Process): only those are stopped without -Force.
$script:StartedDaemons = [System.Collections.Generic.Dictionary[int, System.Diagnostics.Process]]::new()
# Their URLs (URL -> @{ Pid; StateDir }), so that a connection made with -Uri to one of them can stop it too.
$script:StartedDaemonUris = [System.Collections.Generic.Dictionary[string, object]]::new([System.StringComparer]::OrdinalIgnoreCase)
# Windows only: log files the daemons' output is copied into.
$script:DaemonLogStreams = [System.Collections.Generic.List[System.IDisposable]]::new()
# The states a task ends in (it never leaves them); [KrTasks.TaskState] values compare equal to these names.
$script:FinishedStates = 'Completed', 'Failed', 'Stopped'
$script:JsonHasDateKind = (Get-Command -Name ConvertFrom-Json).Parameters.ContainsKey('DateKind')
# The API's CliXml form (PowerShell's own serialization): task creation and results speak it.
$script:CliXmlMediaType = 'application/clixml+xml'

foreach ($folder in 'Private', 'Public') {
    $path = Join-Path $PSScriptRoot $folder
    if (Test-Path $path) {
        foreach ($file in Get-ChildItem -Path $path -Filter '*.ps1' | Sort-Object Name) {
            . $file.FullName
        }
    }
}

# [KrTasks.TaskState]: the state enum of records and Get-KrTaskState (defined once per process).
$null = Register-KrTasksTaskState

# -Id (and -ParentId) complete to the connected daemon's task ids, listed with their names.
$idCompleter = {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    Get-KrTasksIdCompletion -WordToComplete $wordToComplete -FakeBoundParameters $fakeBoundParameters
}
$idCommands = 'Get-KrTask', 'Get-KrTaskResult', 'Get-KrTaskState', 'Start-KrTask', 'Stop-KrTask', 'Remove-KrTask',
'Set-KrTaskName', 'Wait-KrTask', 'Receive-KrTask'
Register-ArgumentCompleter -CommandName $idCommands -ParameterName 'Id' -ScriptBlock $idCompleter
Register-ArgumentCompleter -CommandName 'New-KrTask', 'Start-KrTask', 'Get-KrTask' -ParameterName 'ParentId' -ScriptBlock $idCompleter

# A progress object prints as "50% Sleeping (1/2)" inside a record's list view.
Update-TypeData -TypeName 'KrTasks.TaskProgress' -MemberType ScriptMethod -MemberName 'ToString' -Force -Value {
    '{0}% {1}' -f $this.PercentComplete, $this.StatusMessage
}

$ExecutionContext.SessionState.Module.OnRemove = {
    # Daemons keep running (they are daemons; the next Add-KrTasks reconnects); only free this session's sockets.
    if ($null -ne $script:DefaultConnection) { $script:DefaultConnection.HttpClient.Dispose() }
    foreach ($stream in $script:DaemonLogStreams) { $stream.Dispose() }
}

$public = Get-ChildItem -Path (Join-Path $PSScriptRoot 'Public') -Filter '*.ps1' | ForEach-Object BaseName
Export-ModuleMember -Function $public -Alias 'Add-KrTasksService'
