function Set-KrTaskName {
    <#
    .SYNOPSIS
        Renames a task and/or changes its description.
    .DESCRIPTION
        Sets the name, the description, or both, and outputs one boolean per field set ($true when
        set; $false for an unknown id, with an ObjectNotFound error), as Kestrun's Set-KrTaskName.
        At least one of -Name and -Description is required; blank values are refused.
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Name
        The new display name.
    .PARAMETER Description
        The new description.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru). Default: the default connection.
    .EXAMPLE
        $id = New-KrTask -ScriptBlock { 'x' }
        Set-KrTaskName -Id $id -Name 'nightly report' -Description 'Builds the report'

        Outputs True twice: one for the name, one for the description.
    .INPUTS
        System.String, or any object with an Id property.
    .OUTPUTS
        System.Boolean.
    .LINK
        Get-KrTask
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Low')]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [ValidateNotNullOrWhiteSpace()]
        [string] $Name,

        [ValidateNotNullOrWhiteSpace()]
        [string] $Description,

        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    begin {
        if (-not $PSBoundParameters.ContainsKey('Name') -and -not $PSBoundParameters.ContainsKey('Description')) {
            $ex = [System.ArgumentException]::new('Give -Name, -Description or both.')
            $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($ex, 'KrTasks.NothingToSet', 'InvalidArgument', $null))
        }
    }
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        $body = [ordered]@{}
        if ($PSBoundParameters.ContainsKey('Name')) { $body.Name = $Name }
        if ($PSBoundParameters.ContainsKey('Description')) { $body.Description = $Description }
        foreach ($taskId in $Id) {
            if (-not $PSCmdlet.ShouldProcess($taskId, "Set $($body.Keys -join ' and ')")) { continue }
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Method PATCH -Path (Get-KrTasksTaskPath $taskId) -Body $body -TargetId $taskId
            # Kestrun answers once per field.
            foreach ($field in $body.Keys) { $response.Ok }
        }
    }
}
