function New-KrTask {
    <#
    .SYNOPSIS
        Creates a task on the KrTasks daemon from a script block, code text or a code file.
    .DESCRIPTION
        The task runs PowerShell, C# or VB.NET code in the daemon. C# and VB code is compiled
        now: a compile error is reported (with the compiler's diagnostics) and no task is created.
        The task does not start unless -AutoStart is given (Start-KrTask starts it). An empty
        script block or code is a valid task: it completes with no output.

        The code sees each -Arguments entry as a variable ($name in PowerShell, also bound to a
        param() block; a typed variable in C# and VB), plus $TaskProgress (PercentComplete,
        StatusMessage, Complete()/Fail()/Cancel()/Reset()) and $TaskId; C# and VB code also sees
        CancellationToken. As in Kestrun, C# code also sees Locals (the arguments by name, a
        Dictionary<string, object> of its own) and Globals, and VB code reaches both through g
        (g.Locals("name"), g.Globals). Globals is always empty and read-only: KrTasks has no
        server-wide state shared between tasks. C# and VB import Kestrun's namespaces without
        -ExtraImports (System, System.IO, System.Linq, System.Collections, System.Text,
        System.Text.RegularExpressions, System.Threading.Tasks, System.Management.Automation, ...;
        VB also Microsoft.VisualBasic) and reference the whole .NET shared framework and the
        PowerShell SDK. A PowerShell task's result is its output; a C# task's is the value of its
        last expression; a VB snippet ends with `Return <value>`.

        Blank values are Kestrun's defaults: an empty, $null or blank -Id gives a new id, a blank
        -Name the name "Task <id>", an empty -Description "". Ids are up to 128 characters without
        control characters; spaces and / ? # % \ are fine.

        Returns the new task's id (as Kestrun's New-KrTask does); -PassThru returns the record. A
        task that cannot be created is a terminating error, whatever $ErrorActionPreference says,
        so try/catch catches it: an id that is taken (KrTasks.DuplicateId), code that does not
        compile or parse (KrTasks.CompileError; the diagnostics are in the message and, as
        {Id, Severity, Message, Line, Column} objects, in the error's TargetObject), an invalid
        field (KrTasks.InvalidRequest; also -MaxMemoryMB, -WorkingDirectory and -Environment on a
        daemon that runs task code in its own threads, --isolation thread) and a daemon that does
        not answer.
    .PARAMETER ScriptBlock
        PowerShell code to run. Its text is sent to the daemon, so it cannot use variables of this
        session (pass them with -Arguments; $using: does not apply).
    .PARAMETER Code
        The code as text, in -Language ('' or $null: a task with no output).
    .PARAMETER Language
        The language of -Code: PowerShell (default), CSharp or VBNet.
    .PARAMETER CodeFilePath
        A file with the code; its extension picks the language: .ps1 PowerShell, .cs C#, .vb VB.NET.
    .PARAMETER Id
        The task's id (unique, case-insensitive; up to 128 characters, no control characters).
        Default, also for an empty or blank value: a new GUID (32 hex digits).
    .PARAMETER Name
        A display name. Default, also for an empty or blank value: "Task <id>".
    .PARAMETER Description
        A free-text description (default "").
    .PARAMETER Arguments
        Named values the code sees as variables (names must be valid identifiers). They travel as
        CliXml, PowerShell's own serialization (as for jobs and remoting), so they keep their .NET
        types: a [datetime] stays a DateTime (a typed DateTime variable in C# and VB), an [int] an
        Int32, a hashtable a hashtable, a list an ArrayList; rich objects such as processes arrive as
        Deserialized.* property bags (see -SerializationDepth).
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
    .PARAMETER MaxMemoryMB
        Kill the task's worker process when its resident memory passes this many MiB (at least 64;
        the worker's own runtime counts, about 150-250 MiB): the task then ends Failed with the
        error type MemoryLimitExceeded. Needs the daemon's process isolation (the default).
    .PARAMETER WorkingDirectory
        The task's current directory ($PWD in PowerShell, Environment.CurrentDirectory in C# and
        VB). A relative path is resolved against this session's current file system location. The
        directory must exist: otherwise the task is not created (a terminating
        KrTasks.InvalidRequest error naming WorkingDirectory). Needs process isolation.
    .PARAMETER Environment
        Environment variables added for this task only (names to values; values are sent as
        strings): $env:NAME in PowerShell, Environment.GetEnvironmentVariable in C#, and what the
        processes it starts inherit. The next task on the same worker sees none of them, nor what
        the task itself changed. Needs process isolation.
    .PARAMETER SerializationDepth
        How many levels deep the request (and so -Arguments) and the task's output are serialized
        as CliXml (PSSerializer's depth, 1 to 16, default 4, as PowerShell jobs and remoting keep
        theirs small): deeper properties of rich objects arrive as their strings. Get-KrTaskResult
        and Receive-KrTask get the output back at this depth. A rich object is large at depth 4 (a
        DirectoryInfo is over 1 MB of CliXml): a request above the daemon's --max-body-bytes is
        refused (KrTasks.TooLarge), so pass such arguments with a smaller depth, or their strings.
    .PARAMETER PassThru
        Output the task record instead of the id.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
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
        $code = 'return when.AddDays(1).DayOfWeek.ToString();'
        $id = New-KrTask -Language CSharp -Code $code -Arguments @{ when = [datetime]'2030-01-01' } -AutoStart
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        Arguments keep their .NET types: the C# code gets a typed DateTime variable `when`; outputs
        Wednesday.
    .EXAMPLE
        New-KrTask -Code 'Return Greeting & ", World"' -Language VBNet -Arguments @{ Greeting = 'Hello' } -Name 'vb hello' -PassThru

        Creates a VB.NET task and shows its record.
    .EXAMPLE
        $file = Join-Path ([System.IO.Path]::GetTempPath()) 'krtasks-example.ps1'
        Set-Content -Path $file -Value '"Running from a file: $TaskId"'
        New-KrTask -CodeFilePath $file -AutoStart

        Creates and starts a task from a .ps1 file.
    .EXAMPLE
        $ErrorActionPreference = 'Stop'
        try { New-KrTask -Language CSharp -Code "var x = 1;`nreturn x + nothere;" }
        catch { "Not created: $($_.TargetObject[0].Id) at line $($_.TargetObject[0].Line)" }

        A compile error terminates New-KrTask, so try/catch catches it; the diagnostics are the
        error's TargetObject (here CS0103 at line 2).
    .EXAMPLE
        $server = Add-KrTasksService -PassThru
        $code = 'return Path.GetFileName((string)Locals["path"]);'
        $id = $server | New-KrTask -Language CSharp -Code $code -Arguments @{ path = '/a/b.txt' } -AutoStart
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        Kestrun's names: the connection piped in (or -Server), Locals, and System.IO without
        -ExtraImports; outputs b.txt.
    .EXAMPLE
        $work = New-Item -ItemType Directory -Force -Path (Join-Path ([System.IO.Path]::GetTempPath()) 'krtasks-work')
        $id = New-KrTask -ScriptBlock { "$PWD uses $env:REPORT_MODE mode, level $env:REPORT_LEVEL" } -AutoStart `
            -WorkingDirectory $work.FullName -Environment @{ REPORT_MODE = 'nightly'; REPORT_LEVEL = 3 }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        Get-KrTaskResult -Id $id

        The task runs in its own directory with two extra environment variables (values become
        strings); the next task on the same worker sees neither.
    .EXAMPLE
        $hog = {
            $chunks = [System.Collections.Generic.List[byte[]]]::new()
            1..2048 | ForEach-Object { $chunks.Add([byte[]]::new(1MB)); [Array]::Fill($chunks[-1], [byte]1) }
        }
        $id = New-KrTask -ScriptBlock $hog -MaxMemoryMB 400 -AutoStart
        (Wait-KrTask -Id $id -Timeout 60).Error.Type

        A task that allocates 2 GB is killed at 400 MiB: outputs MemoryLimitExceeded.
    .INPUTS
        KrTasks.Connection (binds to -Connection).
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
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Code,

        [Parameter(ParameterSetName = 'Code')]
        [ValidateSet('PowerShell', 'CSharp', 'VBNet')]
        [string] $Language = 'PowerShell',

        [Parameter(Mandatory, ParameterSetName = 'CodeFilePath')]
        [ValidateNotNullOrEmpty()]
        [string] $CodeFilePath,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Id,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Name,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Description,

        [hashtable] $Arguments,

        [switch] $AutoStart,

        [ValidateRange(0.001, [double]::MaxValue)]
        [double] $TimeoutSeconds,

        [string] $ParentId,

        [string[]] $ExtraImports,

        [string[]] $ExtraRefs,

        [ValidateRange(64, [int]::MaxValue)]
        [int] $MaxMemoryMB,

        [ValidateNotNullOrEmpty()]
        [string] $WorkingDirectory,

        [hashtable] $Environment,

        [ValidateRange(1, 16)]
        [int] $SerializationDepth = 4,

        [switch] $PassThru,

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        $source = switch ($PSCmdlet.ParameterSetName) {
            'ScriptBlock' { @{ Language = 'PowerShell'; Code = $ScriptBlock.ToString() } }
            'Code' { @{ Language = $Language; Code = [string]$Code } }
            'CodeFilePath' { Read-KrTasksCodeFile -Caller $PSCmdlet -Path $CodeFilePath }
        }
        $lang = $source.Language
        $body = New-KrTasksTaskBody -Caller $PSCmdlet -Parameters $PSBoundParameters -Language $lang -Code $source.Code `
            -SerializationDepth $SerializationDepth

        $what = if ($body.ContainsKey('Name')) { "$lang task '$Name'" } else { "$lang task" }
        if (-not $PSCmdlet.ShouldProcess("$what on $($conn.Uri)", $(if ($AutoStart) { 'Create and start' } else { 'Create' }))) { return }
        # Every refusal is a hard failure (taken id, compile error, invalid field): terminating, as in Kestrun.
        $request = @{ Caller = $PSCmdlet; Connection = $conn; Method = 'POST'; Path = 'tasks'; Body = $body; TargetId = $body['Id'] }
        $response = Invoke-KrTasksApi @request -CliXmlDepth $SerializationDepth -Terminating -Handled 409
        if ($response.Status -eq 409) {
            # On creation a conflict means the id is taken (Kestrun: InvalidOperationException).
            $PSCmdlet.ThrowTerminatingError((New-KrTasksErrorRecord -Response $response -TargetId $body['Id'] -ErrorIdOverride 'KrTasks.DuplicateId'))
        }
        $record = ConvertTo-KrTaskRecord $response.Body
        if ($PassThru) { $record } else { $record.Id }
    }
}
