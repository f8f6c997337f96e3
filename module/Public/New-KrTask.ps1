function New-KrTask {
    <#
    .SYNOPSIS
        Creates a task on the KrTasks daemon from a script block, code text or a code file.
    .DESCRIPTION
        The task runs PowerShell, C# or VB.NET code in the daemon. C# and VB code is compiled
        now: a compile error is reported (with the compiler's diagnostics) and no task is created.
        The task does not start unless -AutoStart is given (Start-KrTask starts it).

        The code sees each -Arguments entry as a variable ($name in PowerShell, also bound to a
        param() block; a typed variable in C# and VB), plus $TaskProgress (PercentComplete,
        StatusMessage, Complete()/Fail()/Cancel()/Reset()) and $TaskId; C# code also sees
        CancellationToken. A PowerShell task's result is its output; a C# task's is the value of
        its last expression; a VB snippet must end with `Return <value>`.

        Returns the new task's id (as Kestrun's New-KrTask does); -PassThru returns the record.
    .PARAMETER ScriptBlock
        PowerShell code to run. Its text is sent to the daemon, so it cannot use variables of this
        session (pass them with -Arguments; $using: does not apply).
    .PARAMETER Code
        The code as text, in -Language.
    .PARAMETER Language
        The language of -Code: PowerShell (default), CSharp or VBNet.
    .PARAMETER CodeFilePath
        A file with the code; its extension picks the language: .ps1 PowerShell, .cs C#, .vb VB.NET.
    .PARAMETER Id
        The task's id (unique, case-insensitive). Default: a new GUID (32 hex digits).
    .PARAMETER Name
        A display name. Default: "Task <id>".
    .PARAMETER Description
        A free-text description.
    .PARAMETER Arguments
        Named values the code sees as variables (names must be valid identifiers); numbers,
        strings, booleans, arrays and nested hashtables travel as JSON.
    .PARAMETER AutoStart
        Start the task right away (it may wait in the daemon's queue).
    .PARAMETER TimeoutSeconds
        Stop the task when it runs longer than this (seconds); it then ends Failed with a
        TimeoutException error (a cancel, by contrast, ends Stopped).
    .PARAMETER ParentId
        The id of a parent task: removing the parent removes this task too.
    .PARAMETER ExtraImports
        Extra namespaces for C# (using) or VB (Imports) code.
    .PARAMETER ExtraRefs
        Extra assemblies for C# or VB code: assembly names or paths to DLLs (paths are resolved
        here and sent in full).
    .PARAMETER PassThru
        Output the task record instead of the id.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). Default: the default connection.
    .EXAMPLE
        $id = New-KrTask -ScriptBlock { param($seconds) Start-Sleep -Seconds $seconds; 'slept' } -Arguments @{ seconds = 1 }
        Start-KrTask -Id $id

        Creates a PowerShell task with an argument, then starts it.
    .EXAMPLE
        $id = New-KrTask -Language CSharp -Code 'await Task.Delay(100, CancellationToken); return total * 2;' -Arguments @{ total = 21 } -AutoStart
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        Creates and starts a C# task; the result is 42.
    .EXAMPLE
        New-KrTask -Code 'Return Greeting & ", World"' -Language VBNet -Arguments @{ Greeting = 'Hello' } -Name 'vb hello' -PassThru

        Creates a VB.NET task and shows its record.
    .EXAMPLE
        $file = Join-Path ([System.IO.Path]::GetTempPath()) 'krtasks-example.ps1'
        Set-Content -Path $file -Value '"Running from a file: $TaskId"'
        New-KrTask -CodeFilePath $file -AutoStart

        Creates and starts a task from a .ps1 file.
    .INPUTS
        None.
    .OUTPUTS
        System.String (the id), or KrTasks.Task with -PassThru.
    .LINK
        Start-KrTask
    .LINK
        Wait-KrTask
    #>
    [CmdletBinding(DefaultParameterSetName = 'ScriptBlock', SupportsShouldProcess, ConfirmImpact = 'Low')]
    [OutputType([string])]
    [OutputType('KrTasks.Task')]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'ScriptBlock')]
        [scriptblock] $ScriptBlock,

        [Parameter(Mandatory, ParameterSetName = 'Code')]
        [Alias('CodeBlock')]
        [ValidateNotNullOrEmpty()]
        [string] $Code,

        [Parameter(ParameterSetName = 'Code')]
        [ValidateSet('PowerShell', 'CSharp', 'VBNet')]
        [string] $Language = 'PowerShell',

        [Parameter(Mandatory, ParameterSetName = 'CodeFilePath')]
        [ValidateNotNullOrEmpty()]
        [string] $CodeFilePath,

        [ValidateNotNullOrEmpty()]
        [string] $Id,

        [string] $Name,

        [string] $Description,

        [hashtable] $Arguments,

        [switch] $AutoStart,

        [ValidateRange(0.001, [double]::MaxValue)]
        [double] $TimeoutSeconds,

        [string] $ParentId,

        [string[]] $ExtraImports,

        [string[]] $ExtraRefs,

        [switch] $PassThru,

        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )

    $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
    switch ($PSCmdlet.ParameterSetName) {
        'ScriptBlock' { $lang = 'PowerShell'; $text = $ScriptBlock.ToString() }
        'Code' { $lang = $Language; $text = $Code }
        'CodeFilePath' {
            $path = $PSCmdlet.GetUnresolvedProviderPathFromPSPath($CodeFilePath)
            $extension = [System.IO.Path]::GetExtension($path).ToLowerInvariant()
            $lang = @{ '.ps1' = 'PowerShell'; '.cs' = 'CSharp'; '.vb' = 'VBNet' }[$extension]
            if (-not $lang) {
                $ex = [System.ArgumentException]::new("Cannot tell the language of '$path' from its extension '$extension': use .ps1 (PowerShell), .cs (C#) or .vb (VB.NET), or pass the text with -Code and -Language.")
                $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($ex, 'KrTasks.UnknownCodeFileExtension', 'InvalidArgument', $CodeFilePath))
            }
            if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
                $ex = [System.Management.Automation.ItemNotFoundException]::new("Cannot find the code file '$path'.")
                $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($ex, 'KrTasks.CodeFileNotFound', 'ObjectNotFound', $CodeFilePath))
            }
            $text = [System.IO.File]::ReadAllText($path)
        }
    }

    $body = [ordered]@{ Language = $lang; Code = $text }
    foreach ($field in 'Id', 'Name', 'Description', 'ParentId') {
        if ($PSBoundParameters.ContainsKey($field)) { $body[$field] = $PSBoundParameters[$field] }
    }
    if ($PSBoundParameters.ContainsKey('Arguments')) { $body.Arguments = if ($null -eq $Arguments) { @{} } else { $Arguments } }
    if ($AutoStart) { $body.AutoStart = $true }
    if ($PSBoundParameters.ContainsKey('TimeoutSeconds')) { $body.TimeoutSeconds = $TimeoutSeconds }
    if ($ExtraImports) { $body.ExtraImports = [string[]]$ExtraImports }
    if ($ExtraRefs) {
        $body.ExtraRefs = [string[]]@(foreach ($ref in $ExtraRefs) {
                # A relative DLL path means nothing to the daemon's working directory.
                $candidate = $PSCmdlet.GetUnresolvedProviderPathFromPSPath($ref)
                if (Test-Path -LiteralPath $candidate -PathType Leaf) { $candidate } else { $ref }
            })
    }

    $what = if ($Name) { "$lang task '$Name'" } else { "$lang task" }
    if (-not $PSCmdlet.ShouldProcess("$what on $($conn.Uri)", $(if ($AutoStart) { 'Create and start' } else { 'Create' }))) { return }
    $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Method POST -Path 'tasks' -Body $body -TargetId $Id -Handled 404
    if ($response.Status -eq 404) {
        # On creation a 404 can only be about the parent task.
        $record = if ($ParentId) { New-KrTasksErrorRecord -NotFoundId $ParentId } else { New-KrTasksErrorRecord -Response $response -TargetId $Id }
        $PSCmdlet.WriteError($record)
        return
    }
    if (-not $response.Ok) { return }
    $record = ConvertTo-KrTaskRecord $response.Body
    if ($PassThru) { $record } else { $record.Id }
}
