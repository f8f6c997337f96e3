# KrTasks module loader: private helpers first, then one public cmdlet per file.
Set-StrictMode -Version 3.0

foreach ($folder in 'Private', 'Public') {
    $path = Join-Path $PSScriptRoot $folder
    if (Test-Path $path) {
        foreach ($file in Get-ChildItem -Path $path -Filter '*.ps1' | Sort-Object Name) {
            . $file.FullName
        }
    }
}
