# The module's style rules (CONTRIBUTING.md, "Style"), checked on the parsed module (AST), no daemon needed:
# no aliases and no Write-Host in module code, lines of at most 150 characters, every error id from the
# KrTasks.* family and every ErrorRecord built by New-KrTasksErrorRecord, Start-KrTask's one-shot parameters
# as New-KrTask's, and the manifest's version as pyproject's.

BeforeDiscovery {
    $root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $all = Get-ChildItem -Path (Join-Path $root 'module') -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1', '*.ps1xml'
    $script:Files = foreach ($file in $all) {
        @{ Name = [System.IO.Path]::GetRelativePath($root, $file.FullName); Path = $file.FullName }
    }
}

BeforeAll {
    $script:Root = if ($env:KRTASKS_ROOT) { $env:KRTASKS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:ModuleDir = Join-Path $Root 'module'
    Import-Module (Join-Path $ModuleDir 'KrTasks.psd1') -Force
    $script:Module = Get-Module KrTasks
    $script:Ast = [System.Management.Automation.Language.Ast]
    $script:Builder = 'New-KrTasksErrorRecord'

    # The parsed script files of the module (code only: the manifest is data).
    function script:Get-ModuleAst {
        foreach ($file in Get-ChildItem -Path $ModuleDir -Recurse -File -Include '*.ps1', '*.psm1') {
            $tokens = $errors = $null
            $tree = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref]$tokens, [ref]$errors)
            $errors | Should -BeNullOrEmpty -Because "$($file.Name) must parse"
            [pscustomobject]@{ Name = $file.Name; Ast = $tree }
        }
    }

    # Every node of $Tree for which $Predicate is true (nested script blocks included).
    function script:Find-Node($Tree, [scriptblock] $Predicate) {
        @($Tree.FindAll($Predicate, $true))
    }

    # Where a node is: "File.ps1:12".
    function script:Format-Where($Node) { "$([System.IO.Path]::GetFileName($Node.Extent.File)):$($Node.Extent.StartLineNumber)" }

    # The argument given to -Name in a command call (the next element after the parameter), or $null.
    function script:Get-NamedArgument([System.Management.Automation.Language.CommandAst] $Command, [string] $Name) {
        $elements = $Command.CommandElements
        for ($i = 1; $i -lt $elements.Count; $i++) {
            $element = $elements[$i]
            if ($element -is [System.Management.Automation.Language.CommandParameterAst] -and $element.ParameterName -eq $Name) {
                if ($element.Argument) { return $element.Argument }
                if ($i + 1 -lt $elements.Count) { return $elements[$i + 1] }
            }
        }
        $null
    }

    # The string literals of an expression that are values (not member or command names), outermost only.
    function script:Get-StringLiteral($Node) {
        $strings = Find-Node $Node {
            param($n)
            ($n -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $n.StringConstantType -ne 'BareWord') -or
            $n -is [System.Management.Automation.Language.ExpandableStringExpressionAst]
        }
        foreach ($s in $strings) {
            $outer = $s.Parent
            $nested = $false
            while ($outer -and $outer -ne $Node.Parent) {
                if ($outer -is [System.Management.Automation.Language.ExpandableStringExpressionAst]) { $nested = $true; break }
                $outer = $outer.Parent
            }
            if (-not $nested) { $s }
        }
    }

    # Problems with an error id given as $Node inside $Function: it must be a KrTasks.* literal, or a variable whose every
    # assignment in that function gives KrTasks.* literals (or takes the builder's own -ErrorId/-ErrorIdOverride).
    function script:Test-ErrorIdArgument($Node, $Function, [string] $What) {
        $where = Format-Where $Node
        if ($Node -is [System.Management.Automation.Language.StringConstantExpressionAst] -or
            $Node -is [System.Management.Automation.Language.ExpandableStringExpressionAst]) {
            if (-not $Node.Value.StartsWith('KrTasks.', [System.StringComparison]::Ordinal)) {
                "${where}: $What '$($Node.Value)' is not a KrTasks.* id"
            }
            return
        }
        if ($Node -isnot [System.Management.Automation.Language.VariableExpressionAst]) {
            "${where}: $What must be a KrTasks.* string or a variable holding one, not '$($Node.Extent.Text)'"
            return
        }
        $name = $Node.VariablePath.UserPath
        $assignments = Find-Node $Function {
            param($n)
            if ($n -isnot [System.Management.Automation.Language.AssignmentStatementAst]) { return $false }
            $assigned = Find-Node $n.Left { param($v) $v -is [System.Management.Automation.Language.VariableExpressionAst] }
            @($assigned).VariablePath.UserPath -contains $name
        }
        if ($assignments.Count -eq 0) { "${where}: `$$name (the $What) is never assigned a KrTasks.* id in $($Function.Name)" }
        foreach ($assignment in $assignments) {
            $right = $assignment.Right
            $fromBuilder = $Function.Name -eq $Builder -and $right.Extent.Text -in '$ErrorId', '$ErrorIdOverride'
            if ($fromBuilder) { continue }
            $literals = @(Get-StringLiteral $right)
            if ($literals.Count -eq 0) {
                "$(Format-Where $assignment): `$$name (the $What) is assigned '$($right.Extent.Text)', not a KrTasks.* string"
            }
            foreach ($literal in $literals) {
                if (-not $literal.Value.StartsWith('KrTasks.', [System.StringComparison]::Ordinal)) {
                    "$(Format-Where $literal): `$$name (the $What) can be '$($literal.Value)', not a KrTasks.* id"
                }
            }
        }
    }

    # The function definition that holds a node.
    function script:Get-Function($Node) {
        $parent = $Node.Parent
        while ($parent -and $parent -isnot [System.Management.Automation.Language.FunctionDefinitionAst]) { $parent = $parent.Parent }
        $parent
    }

    # The parameters of a command, as the style comparison sees them: per parameter set, what binding and validation say.
    function script:Get-ParameterShape([System.Management.Automation.CommandInfo] $Command, [string] $Parameter, [string[]] $Sets) {
        $info = $Command.Parameters[$Parameter]
        $attributes = foreach ($a in $info.Attributes) {
            switch ($a) {
                { $_ -is [System.Management.Automation.ParameterAttribute] } {
                    if ($Sets -contains $_.ParameterSetName -or $_.ParameterSetName -eq '__AllParameterSets') {
                        $set = if ($_.ParameterSetName -eq '__AllParameterSets') { 'all' } else { 'one-shot' }
                        "Parameter($set; Mandatory=$($_.Mandatory); Position=$($_.Position); Pipeline=$($_.ValueFromPipeline))"
                    }
                }
                { $_ -is [System.Management.Automation.ValidateSetAttribute] } { "ValidateSet($($_.ValidValues -join ','))" }
                { $_ -is [System.Management.Automation.ValidateRangeAttribute] } { "ValidateRange($($_.MinRange),$($_.MaxRange))" }
                { $_ -is [System.Management.Automation.ValidateArgumentsAttribute] -and
                    $_ -isnot [System.Management.Automation.ValidateSetAttribute] -and
                    $_ -isnot [System.Management.Automation.ValidateRangeAttribute] } { $_.GetType().Name }
                { $_ -is [System.Management.Automation.AllowNullAttribute] -or $_ -is [System.Management.Automation.AllowEmptyStringAttribute] } {
                    $_.GetType().Name
                }
                { $_ -is [System.Management.Automation.AliasAttribute] } { "Alias($($_.AliasNames -join ','))" }
            }
        }
        "$($info.ParameterType.FullName) " + ((@($attributes) | Sort-Object -Unique) -join ' ')
    }
}

AfterAll {
    Remove-Module KrTasks -Force -ErrorAction SilentlyContinue
}

Describe 'Module code style' {
    It 'calls no command by an alias, and no parameter by an alias or an abbreviation' {
        $aliases = [System.Collections.Generic.HashSet[string]]::new([string[]](Get-Alias).Name, [System.StringComparer]::OrdinalIgnoreCase)
        $commands = @{}
        $problems = foreach ($file in Get-ModuleAst) {
            foreach ($call in Find-Node $file.Ast { param($n) $n -is [System.Management.Automation.Language.CommandAst] }) {
                $name = $call.GetCommandName()
                if (-not $name) { continue }
                if ($aliases.Contains($name)) { "$(Format-Where $call): '$name' is an alias"; continue }
                # As the module sees it (its private helpers included).
                if (-not $commands.ContainsKey($name)) {
                    $commands[$name] = & $Module { param($n) Get-Command -Name $n -ErrorAction SilentlyContinue } $name
                }
                $command = $commands[$name]
                if ($null -eq $command -or $command.CommandType -eq 'Application') { continue }
                foreach ($parameter in $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                    if (-not $command.Parameters.ContainsKey($parameter.ParameterName)) {
                        "$(Format-Where $call): -$($parameter.ParameterName) of $name is not that parameter's full name"
                    }
                }
            }
        }
        $problems | Should -BeNullOrEmpty
    }

    It 'never uses Write-Host' {
        $problems = foreach ($file in Get-ModuleAst) {
            $calls = Find-Node $file.Ast {
                param($n)
                $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq 'Write-Host'
            }
            foreach ($call in $calls) { "$(Format-Where $call): Write-Host" }
        }
        $problems | Should -BeNullOrEmpty
    }

    It '<Name> has lines of at most 150 characters' -ForEach $Files {
        $lineNumber = 0
        $long = foreach ($line in [System.IO.File]::ReadAllLines($Path)) {
            $lineNumber++
            if ($line.Length -gt 150) { "line $lineNumber has $($line.Length) characters" }
        }
        $long | Should -BeNullOrEmpty
    }
}

Describe 'Error records' {
    It 'are constructed in New-KrTasksErrorRecord only, once, with a KrTasks.* id' {
        $problems = foreach ($file in Get-ModuleAst) {
            $constructions = Find-Node $file.Ast {
                param($n)
                ($n -is [System.Management.Automation.Language.InvokeMemberExpressionAst] -and $n.Static -and
                    $n.Expression -is [System.Management.Automation.Language.TypeExpressionAst] -and
                    $n.Expression.TypeName.FullName -in 'System.Management.Automation.ErrorRecord', 'ErrorRecord' -and $n.Member.Value -eq 'new') -or
                ($n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq 'New-Object' -and
                    $n.Extent.Text -match 'ErrorRecord')
            }
            foreach ($construction in $constructions) {
                $function = Get-Function $construction
                if ($null -eq $function -or $function.Name -ne $Builder) {
                    "$(Format-Where $construction): an ErrorRecord is built outside $Builder"
                    continue
                }
                $id = $construction.Arguments[1]
                Test-ErrorIdArgument -Node $id -Function $function -What 'error id'
            }
        }
        $problems | Should -BeNullOrEmpty
        $builderFile = Join-Path $ModuleDir "Private/$Builder.ps1"
        $tree = [System.Management.Automation.Language.Parser]::ParseFile($builderFile, [ref]$null, [ref]$null)
        $inBuilder = Find-Node $tree {
            param($n)
            $n -is [System.Management.Automation.Language.InvokeMemberExpressionAst] -and $n.Static -and $n.Member.Value -eq 'new' -and
            $n.Expression.TypeName.FullName -eq 'System.Management.Automation.ErrorRecord'
        }
        $inBuilder | Should -HaveCount 1
    }

    It 'get their ids from the KrTasks.* family: every -ErrorId and -ErrorIdOverride given to the builder' {
        $calls = 0
        $problems = foreach ($file in Get-ModuleAst) {
            $builderCalls = Find-Node $file.Ast {
                param($n)
                $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq $Builder
            }
            foreach ($call in $builderCalls) {
                foreach ($name in 'ErrorId', 'ErrorIdOverride') {
                    $argument = Get-NamedArgument $call $name
                    if ($null -eq $argument) { continue }
                    $calls++
                    Test-ErrorIdArgument -Node $argument -Function (Get-Function $call) -What "-$name"
                }
            }
        }
        $problems | Should -BeNullOrEmpty
        $calls | Should -BeGreaterThan 20   # the module's own errors all go through the builder
    }

    It 'never escape as a bare throw: a throw is caught where it is thrown, rethrown, or throws a builder record' {
        $problems = foreach ($file in Get-ModuleAst) {
            foreach ($throw in Find-Node $file.Ast { param($n) $n -is [System.Management.Automation.Language.ThrowStatementAst] }) {
                if ($throw.IsRethrow) { continue }
                if ($throw.Pipeline.Extent.Text -match "^\(\s*$Builder\b") { continue }
                # Inside the body of a try that catches it (flow control within one function).
                $inside = $false
                $child = $throw
                $parent = $throw.Parent
                while ($parent -and $parent -isnot [System.Management.Automation.Language.FunctionDefinitionAst]) {
                    $try = $parent -is [System.Management.Automation.Language.TryStatementAst]
                    if ($try -and $parent.Body -eq $child -and $parent.CatchClauses.Count -gt 0) {
                        $inside = $true; break
                    }
                    $child = $parent
                    $parent = $parent.Parent
                }
                if (-not $inside) { "$(Format-Where $throw): throw $($throw.Pipeline.Extent.Text) leaves the module without a KrTasks.* id" }
            }
        }
        $problems | Should -BeNullOrEmpty
    }
}

Describe 'Start-KrTask''s one-shot parameters' {
    BeforeAll {
        $script:New = Get-Command -Name New-KrTask -Module KrTasks
        $script:Start = Get-Command -Name Start-KrTask -Module KrTasks
        $script:OneShotSets = 'ScriptBlock', 'Code', 'CodeFilePath'
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        # -AutoStart is what the one-shot always does; -Id is Start-KrTask's id of the task to start in its other set.
        $script:Skipped = @($common) + 'AutoStart', 'Id', 'Connection'
        $script:NewNames = @($New.Parameters.Keys | Where-Object { $_ -notin $Skipped } | Sort-Object)
        $script:StartOneShot = @($Start.Parameters.Keys | Where-Object {
                $_ -notin $Skipped -and ($Start.Parameters[$_].ParameterSets.Keys | Where-Object { $_ -in $OneShotSets })
            } | Sort-Object)
    }

    It 'are New-KrTask''s parameters, by name' {
        $StartOneShot | Should -Be $NewNames
    }

    It 'each belong to the same one-shot parameter sets as in New-KrTask' {
        foreach ($name in $NewNames) {
            $newSets = @($New.Parameters[$name].ParameterSets.Keys | Sort-Object) -replace '^__AllParameterSets$', ($OneShotSets -join ',')
            $startSets = @($Start.Parameters[$name].ParameterSets.Keys | Where-Object { $_ -in $OneShotSets } | Sort-Object)
            (@($newSets -split ',') | Sort-Object) | Should -Be $startSets -Because "-$name"
        }
    }

    It 'have New-KrTask''s type, binding, validation and aliases' {
        foreach ($name in $NewNames) {
            $sets = $OneShotSets
            $newShape = (Get-ParameterShape $New $name $sets) -replace 'Parameter\(all;', 'Parameter(one-shot;'
            $startShape = Get-ParameterShape $Start $name $sets
            $startShape | Should -Be $newShape -Because "-$name"
        }
    }
}

Describe 'Versions' {
    It 'the manifest''s ModuleVersion is pyproject.toml''s project version' {
        $text = Get-Content -Raw -Path (Join-Path $Root 'pyproject.toml')
        $project = [regex]::Match($text, '(?ms)^\[project\]\s*$(.*?)(?=^\[)').Groups[1].Value
        $version = [regex]::Match($project, '(?m)^version\s*=\s*"([^"]+)"').Groups[1].Value
        $version | Should -Not -BeNullOrEmpty
        (Import-PowerShellDataFile -Path (Join-Path $ModuleDir 'KrTasks.psd1')).ModuleVersion | Should -Be $version
    }
}
