function New-KrTasksTaskBody {
    <#
    .SYNOPSIS
        The creation request of New-KrTask (the fields of POST /api/v1/tasks) from its bound parameters.
    .DESCRIPTION
        A hashtable, sent as CliXml so that -Arguments keep their .NET types. Blank -Id and -Name are left to
        the daemon (Kestrun's defaults: a new id, "Task <id>"); -ExtraRefs that name files here are sent as
        full paths (a relative path means nothing to the daemon's working directory); -SerializationDepth is
        sent too, so the task keeps its output as CliXml that deep. -WorkingDirectory is resolved here (see
        Resolve-KrTasksWorkingDirectory) and -Environment's names and values become strings.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [System.Collections.Generic.IDictionary[string, object]] $Parameters,
        [Parameter(Mandatory)] [string] $Language,
        [Parameter(Mandatory)] [AllowEmptyString()] [string] $Code,
        [Parameter(Mandatory)] [int] $SerializationDepth
    )
    $body = @{ Language = $Language; Code = $Code; SerializationDepth = $SerializationDepth }
    foreach ($name in 'Id', 'Name') {
        if ($Parameters.ContainsKey($name) -and -not [string]::IsNullOrWhiteSpace($Parameters[$name])) { $body[$name] = [string]$Parameters[$name] }
    }
    if ($Parameters.ContainsKey('Description')) { $body.Description = [string]$Parameters['Description'] }
    if ($Parameters.ContainsKey('ParentId')) { $body.ParentId = [string]$Parameters['ParentId'] }
    if ($Parameters.ContainsKey('Arguments')) { $body.Arguments = if ($null -eq $Parameters['Arguments']) { @{} } else { $Parameters['Arguments'] } }
    if ($Parameters.ContainsKey('AutoStart') -and $Parameters['AutoStart']) { $body.AutoStart = $true }
    if ($Parameters.ContainsKey('TimeoutSeconds')) { $body.TimeoutSeconds = [double]$Parameters['TimeoutSeconds'] }
    if ($Parameters.ContainsKey('MaxMemoryMB')) { $body.MaxMemoryMB = [int]$Parameters['MaxMemoryMB'] }
    if ($Parameters.ContainsKey('WorkingDirectory')) {
        $body.WorkingDirectory = Resolve-KrTasksWorkingDirectory -Caller $Caller -Path $Parameters['WorkingDirectory']
    }
    if ($Parameters.ContainsKey('Environment') -and $null -ne $Parameters['Environment']) {
        # Names as given: environment variables are case-sensitive outside Windows.
        $variables = [hashtable]::new([System.StringComparer]::Ordinal)
        foreach ($entry in $Parameters['Environment'].GetEnumerator()) { $variables[[string]$entry.Key] = [string]$entry.Value }
        $body.Environment = $variables
    }
    if ($Parameters['ExtraImports']) { $body.ExtraImports = [string[]]$Parameters['ExtraImports'] }
    if ($Parameters['ExtraRefs']) {
        $body.ExtraRefs = [string[]]@(foreach ($ref in $Parameters['ExtraRefs']) {
                $candidate = $Caller.GetUnresolvedProviderPathFromPSPath($ref)
                if (Test-Path -LiteralPath $candidate -PathType Leaf) { $candidate } else { $ref }
            })
    }
    $body
}
