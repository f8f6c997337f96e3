function Find-KrTasksCli {
    <#
    .SYNOPSIS
        Locates the `krtasks` executable: $env:KRTASKS_CLI, then PATH, then the repository's .venv.
    .DESCRIPTION
        Returns the full path, or $null when none is found (callers turn that into a clear error).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    if ($env:KRTASKS_CLI) {
        if (Test-Path -LiteralPath $env:KRTASKS_CLI -PathType Leaf) { return (Resolve-Path -LiteralPath $env:KRTASKS_CLI).ProviderPath }
        Write-Verbose "KRTASKS_CLI points to '$env:KRTASKS_CLI', which does not exist."
    }
    $command = Get-Command -Name 'krtasks' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($command) { return $command.Source }
    # A development checkout: the module folder sits next to .venv.
    $venv = Join-Path $script:ModuleRoot '../.venv'
    $candidates = if ($IsWindows) { @('Scripts/krtasks.exe') } else { @('bin/krtasks') }
    foreach ($candidate in $candidates) {
        $path = Join-Path $venv $candidate
        if (Test-Path -LiteralPath $path -PathType Leaf) { return [System.IO.Path]::GetFullPath($path) }
    }
    $null
}
