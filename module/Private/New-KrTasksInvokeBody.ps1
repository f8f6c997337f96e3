# The task code of Invoke-KrTask for PowerShell code that reads $_ or $PSItem with a pipeline object: the
# daemon binds the wrapper's one parameter, $KrTasksInvoke = @{ Code; InputObject; Bind; InputParameter }.
# The code becomes a script block (its own line numbers in errors), gets the arguments named in Bind and
# the object for InputParameter as parameters, and runs with $_ set to the object, as ForEach-Object runs it.
$script:InvokeWrapper = @'
param($KrTasksInvoke)
$KrTasksSplat = @{}
foreach ($KrTasksName in $KrTasksInvoke.Bind) { $KrTasksSplat[$KrTasksName] = Get-Variable -Name $KrTasksName -Scope Global -ValueOnly }
if ($KrTasksInvoke.InputParameter) { $KrTasksSplat[$KrTasksInvoke.InputParameter] = $KrTasksInvoke.InputObject }
ForEach-Object -InputObject $KrTasksInvoke.InputObject -Process { & ([scriptblock]::Create($KrTasksInvoke.Code)) @KrTasksSplat }
'@

# Seconds a one-call request waits for its task on the daemon; a longer task answers 202 and is polled.
$script:InvokeWaitSeconds = 30

# Levels of a pipeline object's properties that reach the task (Export-Clixml's default). Rich objects grow
# fast with depth (Get-Item / as CliXml: 7 KB at 2 levels, 0.9 MB at 4, 36 MB at 5) and the daemon takes
# at most 1 MiB per request.
$script:InvokeInputDepth = 2

function New-KrTasksInvokeBody {
    <#
    .SYNOPSIS
        The one-call creation request (POST /api/v1/tasks with Wait) of one Invoke-KrTask task.
    .DESCRIPTION
        A hashtable, sent as CliXml so that arguments and the pipeline object keep their .NET types. The id
        is chosen here (a new GUID, as the daemon would choose it), so a task whose request is still in
        flight can be cancelled by id. -Source is Get-KrTasksInvokeSource's answer; -Parameters the
        caller's bound parameters (Arguments, Name, Description, TimeoutSeconds, ExtraImports, ExtraRefs).

        With -HasInput, the pipeline object reaches the code as documented in Invoke-KrTask: C# and VB as
        the argument InputObject; PowerShell bound to Source.InputParameter and, when the code reads $_ or
        $PSItem, as $_ too. The daemon reserves $_ (no argument may set it), so such code runs inside a
        small PowerShell wrapper ($script:InvokeWrapper) that compiles the code as a script block and
        invokes it with $_ set and its parameters bound, as ForEach-Object does.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [hashtable] $Source,
        [Parameter(Mandatory)] [System.Collections.Generic.IDictionary[string, object]] $Parameters,
        [switch] $HasInput,
        [AllowNull()] $InputObject,
        [Parameter(Mandatory)] [double] $WaitSeconds,
        [Parameter(Mandatory)] [int] $SerializationDepth
    )
    $body = @{
        Id                 = [guid]::NewGuid().ToString('N')
        Language           = $Source.Language
        Code               = $Source.Code
        Wait               = $WaitSeconds
        SerializationDepth = $SerializationDepth
    }
    $given = $Parameters.ContainsKey('Arguments') -and $null -ne $Parameters['Arguments']
    $arguments = [hashtable]::new([System.StringComparer]::OrdinalIgnoreCase)
    if ($given) { foreach ($entry in $Parameters['Arguments'].GetEnumerator()) { $arguments[[string]$entry.Key] = $entry.Value } }
    if ($HasInput) {
        $plain = $null -eq $InputObject -or $InputObject -is [string] -or $InputObject -is [ValueType] -or
        $InputObject -is [System.Collections.IEnumerable]
        if (-not $plain) {
            # Flattened here to its own depth, so the request's levels around it (body, Arguments, wrapper) add none.
            $flat = [System.Management.Automation.PSSerializer]::Serialize($InputObject, $script:InvokeInputDepth)
            $InputObject = [System.Management.Automation.PSSerializer]::Deserialize($flat)
        }
        if ($Source.Language -ne 'PowerShell') {
            $arguments['InputObject'] = $InputObject
        }
        elseif ($Source.UsesInput) {
            $body.Code = $script:InvokeWrapper
            $bind = [string[]]@($Source.Parameters | Where-Object { $arguments.ContainsKey($_) })
            $arguments['KrTasksInvoke'] = @{
                Code           = $Source.Code
                InputObject    = $InputObject
                Bind           = $bind
                InputParameter = $Source.InputParameter
            }
        }
        elseif ($Source.InputParameter) {
            $arguments[$Source.InputParameter] = $InputObject
        }
    }
    if ($given -or $arguments.Count -gt 0) { $body.Arguments = $arguments }
    if (-not [string]::IsNullOrWhiteSpace($Parameters['Name'])) { $body.Name = [string]$Parameters['Name'] }
    if ($Parameters.ContainsKey('Description')) { $body.Description = [string]$Parameters['Description'] }
    if ($Parameters.ContainsKey('TimeoutSeconds')) { $body.TimeoutSeconds = [double]$Parameters['TimeoutSeconds'] }
    if ($Parameters['ExtraImports']) { $body.ExtraImports = [string[]]$Parameters['ExtraImports'] }
    if ($Parameters['ExtraRefs']) {
        $body.ExtraRefs = [string[]]@(foreach ($ref in $Parameters['ExtraRefs']) {
                # A relative DLL path means nothing to the daemon's working directory.
                $candidate = $Caller.GetUnresolvedProviderPathFromPSPath($ref)
                if (Test-Path -LiteralPath $candidate -PathType Leaf) { $candidate } else { $ref }
            })
    }
    $body
}
