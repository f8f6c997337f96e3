@{
    RootModule           = 'KrTasks.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '5f0c7c2e-2b7e-4d8a-9a51-3f1e6b0c9d42'
    Author               = 'The KrTasks authors'
    CompanyName          = 'KrTasks'
    Copyright            = '(c) 2026 The KrTasks authors. MIT License.'
    Description          = 'Run ad-hoc PowerShell, C# and VB.NET code as background tasks on a local KrTasks daemon; Kestrun-compatible task cmdlets.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FunctionsToExport    = @(
        'Add-KrTasks'
        'Get-KrTask'
        'Get-KrTaskResult'
        'Get-KrTaskState'
        'Invoke-KrTask'
        'New-KrTask'
        'Receive-KrTask'
        'Remove-KrTask'
        'Set-KrTaskName'
        'Start-KrTask'
        'Stop-KrTask'
        'Stop-KrTasksDaemon'
        'Wait-KrTask'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @('Add-KrTasksService')
    FormatsToProcess     = @('KrTasks.Format.ps1xml')
    PrivateData          = @{
        PSData = @{
            Tags       = @('Tasks', 'Jobs', 'Kestrun', 'Roslyn', 'Background')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
