function Get-KrTasksDefaultStateDir {
    <#
    .SYNOPSIS
        The daemon's default state directory, computed exactly as `krtasks` does.
    .DESCRIPTION
        $env:KRTASKS_STATE_DIR wins; otherwise platformdirs' user_data_dir("krtasks", appauthor=False):
        $XDG_DATA_HOME/krtasks or ~/.local/share/krtasks on Linux, %LOCALAPPDATA%\krtasks\krtasks on
        Windows, ~/Library/Application Support/krtasks on macOS.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    if ($env:KRTASKS_STATE_DIR) {
        return [System.IO.Path]::GetFullPath($env:KRTASKS_STATE_DIR)
    }
    if ($IsWindows) {
        $base = if ($env:LOCALAPPDATA) { $env:LOCALAPPDATA } else { [Environment]::GetFolderPath('LocalApplicationData') }
        # platformdirs repeats the app name as the "author" folder on Windows.
        return Join-Path $base 'krtasks/krtasks'
    }
    if ($IsMacOS) {
        return Join-Path $HOME 'Library/Application Support/krtasks'
    }
    $data = if ($env:XDG_DATA_HOME -and $env:XDG_DATA_HOME.Trim()) { $env:XDG_DATA_HOME.Trim() } else { Join-Path $HOME '.local/share' }
    Join-Path $data 'krtasks'
}
