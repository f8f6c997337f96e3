function Start-KrTask {
    <#
    .SYNOPSIS
        Starts tasks that were created with New-KrTask, or creates and starts a task in one go.
    .DESCRIPTION
        With -Id, starts each task (it runs at once or waits in the daemon's queue) and returns
        $true, or $false when the task does not exist or is not in the NotStarted state, as
        Kestrun's Start-KrTask: no error record, so a script under $ErrorActionPreference = 'Stop'
        keeps running; -Verbose says why. Only when -ErrorAction is given explicitly is the
        ObjectNotFound or WrongState error written as well (-ErrorAction Stop then throws). Ids come
        from the pipeline too: strings, or objects with an Id property such as the records of
        Get-KrTask. A connection piped in binds to -Connection ($server | Start-KrTask -Id $id).

        With -ScriptBlock, -Code or -CodeFilePath it is the one-shot: it creates the task (see
        New-KrTask, same parameters; its failures terminate) and starts it, returning the new id.
    .PARAMETER Id
        The id of the task to start. With the one-shot parameter sets: the id for the new task.
    .PARAMETER ScriptBlock
        One-shot: PowerShell code for a new task (see New-KrTask).
    .PARAMETER Code
        One-shot: code text for a new task, in -Language ('' or $null: a task with no output).
    .PARAMETER Language
        One-shot: the language of -Code: PowerShell (default), CSharp or VBNet.
    .PARAMETER CodeFilePath
        One-shot: a .ps1, .cs or .vb file with the code of a new task.
    .PARAMETER Name
        One-shot: the new task's display name.
    .PARAMETER Description
        One-shot: the new task's description.
    .PARAMETER Arguments
        One-shot: named values the code sees as variables; they keep their .NET types (CliXml, see
        New-KrTask).
    .PARAMETER TimeoutSeconds
        One-shot: stop the new task when it runs longer than this (seconds; it ends Failed with a
        TimeoutException error).
    .PARAMETER ParentId
        One-shot: the id of the new task's parent task.
    .PARAMETER ExtraImports
        One-shot: extra namespaces for C# or VB code.
    .PARAMETER ExtraRefs
        One-shot: extra assemblies (names or DLL paths) for C# or VB code.
    .PARAMETER MaxMemoryMB
        One-shot: kill the new task's worker above this resident memory (MiB, at least 64); it ends
        Failed with MemoryLimitExceeded (see New-KrTask).
    .PARAMETER WorkingDirectory
        One-shot: the new task's current directory (relative to this session's file system
        location; must exist).
    .PARAMETER Environment
        One-shot: environment variables for the new task only (values sent as strings).
    .PARAMETER SerializationDepth
        One-shot: how deep the request (with -Arguments) and the task's output are serialized as
        CliXml (1 to 16, default 4; see New-KrTask).
    .PARAMETER PassThru
        One-shot: output the new task's record instead of its id.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = New-KrTask -ScriptBlock { 'hello' }
        Start-KrTask -Id $id

        Starts a task; outputs True.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { param($n) 1..$n | ForEach-Object { $_ * $_ } } -Arguments @{ n = 3 }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        The one-shot: creates and starts a task, then reads its result (1, 4, 9).
    .EXAMPLE
        $id = Start-KrTask -Language CSharp -Code 'return Environment.GetEnvironmentVariable("GREETING") + " from " + Environment.CurrentDirectory;' `
            -Environment @{ GREETING = 'hello' } -WorkingDirectory ([System.IO.Path]::GetTempPath())
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        A one-shot C# task with its own environment variable and directory.
    .EXAMPLE
        Get-KrTask -StateFilter NotStarted | Start-KrTask -WhatIf

        Shows which tasks would be started.
    .EXAMPLE
        $ErrorActionPreference = 'Stop'
        $server = Add-KrTasksService -PassThru
        if (-not ($server | Start-KrTask -Id 'no-such-task')) { 'not started (unknown id), and the script goes on' }

        Kestrun's soft failure: $false, no error, even under $ErrorActionPreference = 'Stop'.
    .INPUTS
        System.String, or any object with an Id property (KrTasks.Task); KrTasks.Connection (binds
        to -Connection).
    .OUTPUTS
        System.Boolean with -Id; System.String (the new id) or KrTasks.Task for the one-shot.
    .LINK
        New-KrTask
    .LINK
        Wait-KrTask
    #>
    [CmdletBinding(DefaultParameterSetName = 'Id', SupportsShouldProcess, ConfirmImpact = 'Low')]
    [OutputType([bool], [string])]
    [OutputType('KrTasks.Task')]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'Id', ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [Parameter(Mandatory, Position = 0, ParameterSetName = 'ScriptBlock')]
        [scriptblock] $ScriptBlock,

        [Parameter(Mandatory, ParameterSetName = 'Code')]
        [Alias('CodeBlock')]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Code,

        [Parameter(ParameterSetName = 'Code')]
        [ValidateSet('PowerShell', 'CSharp', 'VBNet')]
        [string] $Language = 'PowerShell',

        [Parameter(Mandatory, ParameterSetName = 'CodeFilePath')]
        [ValidateNotNullOrEmpty()]
        [string] $CodeFilePath,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Name,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Description,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [hashtable] $Arguments,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [ValidateRange(0.001, [double]::MaxValue)]
        [double] $TimeoutSeconds,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [string] $ParentId,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [string[]] $ExtraImports,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [string[]] $ExtraRefs,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [ValidateRange(64, [int]::MaxValue)]
        [int] $MaxMemoryMB,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [ValidateNotNullOrEmpty()]
        [string] $WorkingDirectory,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [hashtable] $Environment,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [ValidateRange(1, 16)]
        [int] $SerializationDepth = 4,

        [Parameter(ParameterSetName = 'ScriptBlock')]
        [Parameter(ParameterSetName = 'Code')]
        [Parameter(ParameterSetName = 'CodeFilePath')]
        [switch] $PassThru,

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        if ($PSCmdlet.ParameterSetName -ne 'Id') {
            if (-not $PSCmdlet.ShouldProcess("new task on $($conn.Uri)", 'Create and start')) { return }
            $splat = @{}
            foreach ($key in $PSBoundParameters.Keys) {
                if ($key -notin 'WhatIf', 'Confirm', 'Connection') { $splat[$key] = $PSBoundParameters[$key] }
            }
            if ($splat.ContainsKey('Id')) { $splat.Id = $Id[0] }
            New-KrTask @splat -AutoStart -Connection $conn -Confirm:$false
            return
        }
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            if (-not $PSCmdlet.ShouldProcess($taskId, 'Start task')) { continue }
            $path = Get-KrTasksTaskPath $taskId 'start'
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Method POST -Path $path -TargetId $taskId -Handled 404, 409
            # Unknown, or not NotStarted: Kestrun's $false.
            if ($response.Status -eq 404) { Write-KrTasksSoftFailure -Caller $PSCmdlet -NotFoundId $taskId }
            elseif ($response.Status -eq 409) { Write-KrTasksSoftFailure -Caller $PSCmdlet -Response $response -TargetId $taskId }
            $response.Ok
        }
    }
}
