function Get-KrTasksInvokeSource {
    <#
    .SYNOPSIS
        The code of an Invoke-KrTask call and how a pipeline object reaches it.
    .DESCRIPTION
        Reads the code from the caller's parameter set (-ScriptBlock, -Code with -Language, or
        -CodeFilePath, whose extension picks the language; a bad extension or a missing file is a
        terminating error of -Caller). For PowerShell code that parses here it also tells:
        InputParameter, the parameter a pipeline object binds to (the first declared one that is not a
        switch and not named in -ArgumentNames, as positional binding would pick it; $null when there
        is none), UsesInput, whether the code reads $_ or $PSItem, and Parameters, every declared
        parameter's name. Code that does not parse is sent as it is, so the daemon reports its compile
        error as for New-KrTask.
        Output: @{ Language; Code; Parameters; InputParameter; UsesInput }.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [System.Collections.Generic.IDictionary[string, object]] $Parameters,
        [string[]] $ArgumentNames = @()
    )
    $source = @{ Language = 'PowerShell'; Code = ''; Parameters = [string[]]@(); InputParameter = $null; UsesInput = $false }
    $ast = $null
    switch ($Caller.ParameterSetName) {
        'ScriptBlock' {
            $source.Code = $Parameters['ScriptBlock'].ToString()
            $ast = $Parameters['ScriptBlock'].Ast
        }
        'Code' {
            $source.Code = [string]$Parameters['Code']
            if ($Parameters.ContainsKey('Language')) { $source.Language = [string]$Parameters['Language'] }
        }
        'CodeFilePath' {
            $given = [string]$Parameters['CodeFilePath']
            $path = $Caller.GetUnresolvedProviderPathFromPSPath($given)
            $extension = [System.IO.Path]::GetExtension($path).ToLowerInvariant()
            $source.Language = @{ '.ps1' = 'PowerShell'; '.cs' = 'CSharp'; '.vb' = 'VBNet' }[$extension]
            if (-not $source.Language) {
                $message = "Cannot tell the language of '$path' from its extension '$extension': use .ps1 (PowerShell), " +
                '.cs (C#) or .vb (VB.NET), or pass the text with -Code and -Language.'
                $Caller.ThrowTerminatingError((New-KrTasksErrorRecord -ErrorId 'KrTasks.UnknownCodeFileExtension' `
                            -Category InvalidArgument -Message $message -TargetObject $given -ExceptionType ([System.ArgumentException])))
            }
            if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
                $Caller.ThrowTerminatingError((New-KrTasksErrorRecord -ErrorId 'KrTasks.CodeFileNotFound' -Category ObjectNotFound `
                            -Message "Cannot find the code file '$path'." -TargetObject $given `
                            -ExceptionType ([System.Management.Automation.ItemNotFoundException])))
            }
            $source.Code = [System.IO.File]::ReadAllText($path)
        }
    }
    if ($source.Language -ne 'PowerShell') { return $source }
    if ($null -eq $ast) {
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($source.Code, [ref]$null, [ref]$errors)
        if ($errors) { return $source }
    }
    if ($ast.ParamBlock) {
        $source.Parameters = [string[]]@($ast.ParamBlock.Parameters | ForEach-Object { $_.Name.VariablePath.UserPath })
        foreach ($parameter in $ast.ParamBlock.Parameters) {
            $name = $parameter.Name.VariablePath.UserPath
            if ($parameter.StaticType -eq [System.Management.Automation.SwitchParameter] -or $ArgumentNames -contains $name) { continue }
            $source.InputParameter = $name
            break
        }
    }
    $dollarUnder = {
        param($node)
        $node -is [System.Management.Automation.Language.VariableExpressionAst] -and $node.VariablePath.UserPath -in '_', 'PSItem'
    }
    $source.UsesInput = $null -ne $ast.Find($dollarUnder, $true)
    $source
}
