function Invoke-KrTask {
    <#
    .SYNOPSIS
        Runs code as a task on the KrTasks daemon and waits for it: its streams, then its output.
    .DESCRIPTION
        The synchronous way to run a task, as Invoke-Command or
        Start-Job | Receive-Job -Wait -AutoRemoveJob: creates the task, waits for its end, writes its
        Error, Warning, Verbose, Debug and Information records to this session's matching streams (so
        -WarningVariable, -InformationVariable, -ErrorVariable and the preference variables work as for
        any cmdlet), outputs its result and removes the task (-Keep leaves it). The code is given as for
        New-KrTask: a script block, -Code text in -Language, or a .ps1, .cs or .vb file; it sees -Arguments
        as variables (and PowerShell's param() block gets them bound), plus $TaskProgress and $TaskId.

        Output comes back typed, as Receive-Job gives it: the task is created in the API's CliXml form,
        so numbers, dates, hashtables and strings are themselves again, and richer objects arrive as
        Deserialized.* property bags; -SerializationDepth says how deep they are kept.

        A task that fails is a non-terminating error (KrTasks.TaskFailed,<exception type>, its category
        kept); with -ErrorAction Stop it is terminating, so try/catch catches it. Code that does not
        compile, and any other refused creation, is a terminating error (KrTasks.CompileError,
        KrTasks.InvalidRequest...): it would fail for every input alike. -TimeoutSeconds limits the run
        time: a task that runs longer is stopped and fails with a TimeoutException error.

        Pipeline input runs one task per input object, up to -ThrottleLimit at once (as ForEach-Object
        -Parallel), and outputs the results in input order; each task's stream records come right
        before its output. The object reaches the code typed (CliXml) as:
        - $_ and $PSItem in PowerShell, as ForEach-Object -Parallel gives it (in the script's body; a
          process block does not see it there either),
        - and the first parameter of a PowerShell param() block that is not a switch and not given by
          -Arguments, as positional binding would pick it: { param($x) $x * 2 },
        - the variable InputObject in C# and VB (also Locals["InputObject"]; it replaces an -Arguments
          entry of that name).
        Without pipeline input one task runs, with no input object. PowerShell code that reads $_ runs
        inside a small wrapper that compiles it as a script block and sets $_ (the daemon reserves that
        name for itself), so it also sees a variable $KrTasksInvoke.

        Ctrl+C (or a downstream Select-Object -First) stops the call: the tasks it started that still
        run are cancelled, and every task it created is removed (-Keep: cancelled and kept, Stopped).
        Each task is one request to the daemon while it lasts up to half a minute; a longer task is then
        waited for by long polls, so it is never lost.
    .PARAMETER ScriptBlock
        PowerShell code to run. Its text is sent to the daemon, so it cannot use variables of this
        session (pass them with -Arguments or the pipeline; $using: does not apply).
    .PARAMETER Code
        The code as text, in -Language ('' or $null: a task with no output).
    .PARAMETER Language
        The language of -Code: PowerShell (default), CSharp or VBNet.
    .PARAMETER CodeFilePath
        A file with the code; its extension picks the language: .ps1 PowerShell, .cs C#, .vb VB.NET.
    .PARAMETER InputObject
        The object for one task (from the pipeline: one task per object). See the description for how the
        code sees it. Given by name, the whole value is one object, as ForEach-Object -InputObject.
    .PARAMETER Arguments
        Named values every task's code sees as variables (names must be valid identifiers); they keep
        their .NET types.
    .PARAMETER ThrottleLimit
        How many tasks of this call run at once (default 5, as ForEach-Object -Parallel). The daemon's own
        limit (--max-runspaces) still applies: more queue there.
    .PARAMETER TimeoutSeconds
        Stop a task when it runs longer than this (seconds); it then fails with a TimeoutException error.
    .PARAMETER Keep
        Leave the tasks on the daemon once their output was received (Get-KrTask lists them;
        Receive-KrTask -Keep and Get-KrTaskResult read them again). By default each is removed.
    .PARAMETER Name
        A display name for the tasks (default, also for a blank value: "Task <id>").
    .PARAMETER Description
        A free-text description for the tasks.
    .PARAMETER ExtraImports
        Extra namespaces for C# (using) or VB (Imports) code.
    .PARAMETER ExtraRefs
        Extra assemblies for C# or VB code: assembly names or paths to DLLs (paths are resolved here and
        sent in full).
    .PARAMETER SerializationDepth
        How many levels of the output's properties are kept (1 to 16, default 4, as Receive-Job's 1 is often
        too shallow). A pipeline object other than a string, number or collection reaches the task with two
        levels of its properties, as Export-Clixml keeps them (rich objects such as Get-Item's grow past the
        daemon's 1 MiB request limit a few levels deeper).
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). -Server, Kestrun's name, is an alias.
        Default: the default connection. It is not taken from the pipeline: pipeline input is task input.
    .EXAMPLE
        $when = Invoke-KrTask { [datetime]'2030-01-02' }
        "$($when.GetType().Name): $($when.ToString('yyyy-MM-dd'))"

        Runs a task and outputs its result, typed: DateTime: 2030-01-02.
    .EXAMPLE
        1..10 | Invoke-KrTask { param($x) $x * 2 } -ThrottleLimit 4

        One task per input, four at a time; outputs 2, 4, ... 20 in input order.
    .EXAMPLE
        'report.txt', 'data.csv' | Invoke-KrTask { [System.IO.Path]::GetExtension($_) }

        The pipeline object is $_ as in ForEach-Object -Parallel; outputs .txt and .csv.
    .EXAMPLE
        $sum = Invoke-KrTask { Write-Warning 'careful'; Write-Information 'counted'; 1..4 | Measure-Object -Sum } `
            -WarningVariable warnings -WarningAction SilentlyContinue -InformationVariable notes
        "$($sum.Sum) / $warnings / $notes"

        The task's warning and information records land in this session's streams: 10 / careful / counted.
    .EXAMPLE
        1..3 | Invoke-KrTask -Language CSharp -Code 'return (int)InputObject * factor;' -Arguments @{ factor = 10 }

        C# code sees the pipeline object as InputObject: outputs 10, 20, 30.
    .EXAMPLE
        Invoke-KrTask -Language VBNet -Code 'Return Greeting & ", World"' -Arguments @{ Greeting = 'Hello' }

        A VB.NET task; outputs Hello, World.
    .EXAMPLE
        try { Invoke-KrTask { throw 'bad input' } -ErrorAction Stop }
        catch { "Failed: $($_.Exception.Message) ($($_.FullyQualifiedErrorId))" }

        A failed task is an error record; -ErrorAction Stop makes it terminating.
    .EXAMPLE
        Invoke-KrTask { Start-Sleep -Seconds 5 } -TimeoutSeconds 0.5 -ErrorAction SilentlyContinue -ErrorVariable late
        $late[0].Exception.Message

        The task ran out of time: it was stopped and failed with a TimeoutException.
    .EXAMPLE
        $null = Invoke-KrTask { 'kept' } -Keep -Name 'invoke-example'
        Get-KrTask -Name 'invoke-example' | Remove-KrTask | Out-Null

        -Keep leaves the task on the daemon (here removed afterwards).
    .INPUTS
        System.Object: one task per input object.
    .OUTPUTS
        The tasks' output objects.
    .LINK
        New-KrTask
    .LINK
        Receive-KrTask
    #>
    [CmdletBinding(DefaultParameterSetName = 'ScriptBlock')]
    [OutputType([object])]
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

        [Parameter(ValueFromPipeline)]
        [AllowNull()]
        [psobject] $InputObject,

        [hashtable] $Arguments,

        [ValidateRange(1, 1024)]
        [int] $ThrottleLimit = 5,

        [ValidateRange(0.001, [double]::MaxValue)]
        [double] $TimeoutSeconds,

        [switch] $Keep,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Name,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Description,

        [string[]] $ExtraImports,

        [string[]] $ExtraRefs,

        [ValidateRange(1, 16)]
        [int] $SerializationDepth = 4,

        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    begin {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        $names = [string[]]@(if ($Arguments) { $Arguments.Keys })
        $source = Get-KrTasksInvokeSource -Caller $PSCmdlet -Parameters $PSBoundParameters -ArgumentNames $names
        $invocation = New-KrTasksInvocation -Caller $PSCmdlet -Connection $conn -ThrottleLimit $ThrottleLimit `
            -WaitSeconds $script:InvokeWaitSeconds -SerializationDepth $SerializationDepth -Keep:$Keep
    }
    process {
        $hasInput = $PSBoundParameters.ContainsKey('InputObject')
        $body = New-KrTasksInvokeBody -Caller $PSCmdlet -Source $source -Parameters $PSBoundParameters -HasInput:$hasInput `
            -InputObject $InputObject -WaitSeconds $invocation.WaitSeconds -SerializationDepth $SerializationDepth
        Add-KrTasksInvocationItem -Invocation $invocation -Body $body
        Step-KrTasksInvocation -Invocation $invocation
        while ($invocation.Queue.Count -gt 0) { Step-KrTasksInvocation -Invocation $invocation -Block }
    }
    end {
        while ($invocation.Items.Count -gt 0 -or $invocation.Deletes.Count -gt 0) { Step-KrTasksInvocation -Invocation $invocation -Block }
    }
    clean {
        # Stopped (Ctrl+C, Select-Object -First) or failed: cancel and remove what is left; after a normal end nothing is.
        $run = Get-Variable -Name invocation -Scope 0 -ValueOnly -ErrorAction Ignore
        if ($run -and ($run.Items.Count -gt 0 -or $run.Deletes.Count -gt 0)) { Stop-KrTasksInvocation -Invocation $run }
    }
}
