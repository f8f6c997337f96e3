function Get-KrTasksLogTail {
    <#
    .SYNOPSIS
        The last lines of a daemon log (shared read: the daemon may still be writing it).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Path, [int] $Lines = 15, [long] $Offset = 0)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return '(no log)' }
    try {
        $stream = [System.IO.FileStream]::new($Path, 'Open', 'Read', 'ReadWrite')
        try {
            $null = $stream.Seek([math]::Min($Offset, $stream.Length), 'Begin')
            $reader = [System.IO.StreamReader]::new($stream)
            $all = $reader.ReadToEnd() -split '\r?\n' | Where-Object { $_ }
        }
        finally { $stream.Dispose() }
        if (-not $all) { return '(empty log)' }
        (@($all) | Select-Object -Last $Lines) -join [Environment]::NewLine
    }
    catch { "(cannot read the log: $($_.Exception.Message))" }
}
