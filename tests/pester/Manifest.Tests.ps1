# The module's shape: manifest, exports, layout, format file and comment-based help (no daemon needed).

BeforeDiscovery {
    $root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:PublicNames = Get-ChildItem -Path (Join-Path $root 'module/Public') -Filter '*.ps1' | ForEach-Object BaseName | Sort-Object
    $script:Cmdlets = foreach ($name in $PublicNames) { @{ Name = $name } }
    # The cmdlets that act on existing tasks by -Id.
    $script:TaskCmdlets = $PublicNames | Where-Object { $_ -notin 'Add-KrTasks', 'Stop-KrTasksDaemon', 'New-KrTask', 'Invoke-KrTask' }
}

BeforeAll {
    $script:Root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:Manifest = Join-Path $Root 'module/KrTasks.psd1'
    $script:Public = Get-ChildItem -Path (Join-Path $Root 'module/Public') -Filter '*.ps1' | ForEach-Object BaseName | Sort-Object
    $script:Private = Get-ChildItem -Path (Join-Path $Root 'module/Private') -Filter '*.ps1' | ForEach-Object BaseName
    Import-Module $Manifest -Force
}

AfterAll {
    Remove-Module KrTasks -Force -ErrorAction SilentlyContinue
}

Describe 'KrTasks module manifest' {
    It 'is a valid module manifest' {
        $info = Test-ModuleManifest -Path $Manifest -ErrorAction Stop
        $info.Name | Should -Be 'KrTasks'
        $info.Version | Should -Be ([version]'0.1.0')
    }

    It 'lists exactly the public cmdlets in FunctionsToExport, and the alias' {
        $data = Import-PowerShellDataFile -Path $Manifest
        @($data.FunctionsToExport | Sort-Object) | Should -Be $Public
        $data.AliasesToExport | Should -Be @('Add-KrTasksService')
        $data.FormatsToProcess | Should -Be @('KrTasks.Format.ps1xml')
        $data.CmdletsToExport | Should -BeNullOrEmpty
        $data.VariablesToExport | Should -BeNullOrEmpty
    }

    It 'exports the public cmdlets and the alias, and no helper' {
        $commands = Get-Command -Module KrTasks
        @($commands | Where-Object CommandType -EQ 'Function' | ForEach-Object Name | Sort-Object) | Should -Be $Public
        ($commands | Where-Object CommandType -EQ 'Alias').Name | Should -Be 'Add-KrTasksService'
        foreach ($helper in $Private) { Get-Command -Name $helper -ErrorAction SilentlyContinue | Should -BeNullOrEmpty }
    }

    It 'loads the format file with a table view of KrTasks.Task' {
        $format = Get-FormatData -TypeName 'KrTasks.Task'
        $view = $format.FormatViewDefinition | Where-Object { $_.Control -is [System.Management.Automation.TableControl] }
        $view.Control.Headers.Label | Should -Be @('Id', 'Name', 'Language', 'StateText', 'Progress %', 'Duration')
    }

    It 'has the cmdlets the issue names, with approved verbs' {
        foreach ($name in 'Add-KrTasks', 'Stop-KrTasksDaemon', 'New-KrTask', 'Start-KrTask', 'Get-KrTask', 'Get-KrTaskResult',
            'Get-KrTaskState', 'Stop-KrTask', 'Remove-KrTask', 'Set-KrTaskName', 'Wait-KrTask', 'Receive-KrTask') {
            $Public | Should -Contain $name
        }
        $approved = (Get-Verb).Verb
        foreach ($name in $Public + $Private) { $approved | Should -Contain ($name -split '-')[0] }
    }
}

Describe '<Name>' -ForEach $Cmdlets {
    BeforeAll {
        $script:Command = Get-Command -Name $Name -Module KrTasks
        $script:Help = Get-Help -Name $Name -Full
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        $script:Parameters = $Command.Parameters.Keys | Where-Object { $_ -notin $common }
    }

    It 'lives alone in a file named after it' {
        $file = Join-Path $Root "module/Public/$Name.ps1"
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$null, [ref]$null)
        $functions = $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false)
        $functions.Name | Should -Be $Name
    }

    It 'is an advanced function' {
        $Command.CmdletBinding | Should -BeTrue
    }

    It 'has a synopsis and a description' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        $Help.Synopsis | Should -Not -BeLike "$Name*"   # not the generated one
        ($Help.description.Text -join "`n") | Should -Not -BeNullOrEmpty
    }

    It 'describes every parameter' {
        foreach ($parameter in $Parameters) {
            $text = ($Help.parameters.parameter | Where-Object name -EQ $parameter).description.Text -join ''
            $text | Should -Not -BeNullOrEmpty -Because "-$parameter needs a description"
        }
    }

    It 'has at least one example with code and an explanation' {
        @($Help.examples.example).Count | Should -BeGreaterOrEqual 1
        foreach ($example in $Help.examples.example) {
            $example.code | Should -Not -BeNullOrEmpty
            ($example.remarks.Text -join '').Trim() | Should -Not -BeNullOrEmpty
        }
    }

    It 'takes -Connection (except Add-KrTasks, which makes connections)' {
        if ($Name -eq 'Add-KrTasks') { $Parameters | Should -Not -Contain 'Connection' }
        else { $Parameters | Should -Contain 'Connection' }
    }

    It 'binds only a KrTasks.Connection to -Connection (the helpers rely on it)' {
        if ($Name -eq 'Add-KrTasks') { return }
        $typeName = $Command.Parameters['Connection'].Attributes | Where-Object { $_ -is [System.Management.Automation.PSTypeNameAttribute] }
        $typeName.PSTypeName | Should -Be 'KrTasks.Connection'
    }
}

Describe 'Pipeline input' {
    It '<_> takes -Id from the pipeline by value and by property name' -ForEach $TaskCmdlets {
        $attributes = (Get-Command -Name $_ -Module KrTasks).Parameters['Id'].Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] }
        ($attributes | Where-Object ValueFromPipeline) | Should -Not -BeNullOrEmpty
        ($attributes | Where-Object ValueFromPipelineByPropertyName) | Should -Not -BeNullOrEmpty
    }
}

Describe 'ShouldProcess' {
    It '<_> supports -WhatIf and -Confirm' -ForEach 'Stop-KrTask', 'Remove-KrTask', 'Start-KrTask', 'Set-KrTaskName', 'New-KrTask', 'Stop-KrTasksDaemon' {
        $command = Get-Command -Name $_ -Module KrTasks
        $command.Parameters.Keys | Should -Contain 'WhatIf'
        $command.Parameters.Keys | Should -Contain 'Confirm'
    }
}
