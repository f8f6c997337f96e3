function Read-KrTasksCodeFile {
    <#
    .SYNOPSIS
        Reads a task's code file (New-KrTask -CodeFilePath): returns @{ Language; Code }, the language from
        the extension (.ps1 PowerShell, .cs CSharp, .vb VBNet).
    .DESCRIPTION
        The path is resolved against the caller's current location. Another extension
        (KrTasks.UnknownCodeFileExtension) and a missing file (KrTasks.CodeFileNotFound) are terminating
        errors of -Caller.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [string] $Path
    )
    $full = $Caller.GetUnresolvedProviderPathFromPSPath($Path)
    $extension = [System.IO.Path]::GetExtension($full).ToLowerInvariant()
    $language = @{ '.ps1' = 'PowerShell'; '.cs' = 'CSharp'; '.vb' = 'VBNet' }[$extension]
    if (-not $language) {
        $message = "Cannot tell the language of '$full' from its extension '$extension': " +
        'use .ps1 (PowerShell), .cs (C#) or .vb (VB.NET), or pass the text with -Code and -Language.'
        $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.UnknownCodeFileExtension' -Category InvalidArgument -Message $message `
            -TargetObject $Path -ExceptionType ([System.ArgumentException])
        $Caller.ThrowTerminatingError($record)
    }
    if (-not (Test-Path -LiteralPath $full -PathType Leaf)) {
        $message = "Cannot find the code file '$full'."
        $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.CodeFileNotFound' -Category ObjectNotFound -Message $message `
            -TargetObject $Path -ExceptionType ([System.Management.Automation.ItemNotFoundException])
        $Caller.ThrowTerminatingError($record)
    }
    @{ Language = $language; Code = [System.IO.File]::ReadAllText($full) }
}
