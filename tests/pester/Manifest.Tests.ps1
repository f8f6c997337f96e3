BeforeAll {
    $script:Root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { Resolve-Path (Join-Path $PSScriptRoot '../..') }
    $script:Manifest = Join-Path $Root 'module/KrTasks.psd1'
}

Describe 'KrTasks module manifest' {
    It 'is a valid module manifest' {
        $info = Test-ModuleManifest -Path $Manifest -ErrorAction Stop
        $info.Name | Should -Be 'KrTasks'
        $info.Version | Should -Be ([version]'0.1.0')
    }
}
