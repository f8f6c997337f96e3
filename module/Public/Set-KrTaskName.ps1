function Set-KrTaskName {
    <#
    .SYNOPSIS
        Renames a task and/or changes its description.
    .DESCRIPTION
        Sets the name, the description, or both, and outputs one boolean per field set, as
        Kestrun's Set-KrTaskName: $true when set, $false for an unknown id. An unknown id writes
        no error record (a script under $ErrorActionPreference = 'Stop' keeps running; -Verbose
        says why) unless -ErrorAction is given explicitly. At least one of -Name and -Description is
        required, and blank values are refused: both are terminating errors.
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Name
        The new display name.
    .PARAMETER Description
        The new description.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = New-KrTask -ScriptBlock { 'x' }
        Set-KrTaskName -Id $id -Name 'nightly report' -Description 'Builds the report'

        Outputs True twice: one for the name, one for the description.
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
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

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    begin {
        if (-not $PSBoundParameters.ContainsKey('Name') -and -not $PSBoundParameters.ContainsKey('Description')) {
            $message = 'Give -Name, -Description or both.'
            $record = New-KrTasksErrorRecord -ErrorId 'KrTasks.NothingToSet' -Category InvalidArgument -Message $message `
                -ExceptionType ([System.ArgumentException])
            $PSCmdlet.ThrowTerminatingError($record)
        }
    }
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        $body = [ordered]@{}
        if ($PSBoundParameters.ContainsKey('Name')) { $body.Name = $Name }
        if ($PSBoundParameters.ContainsKey('Description')) { $body.Description = $Description }
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            if (-not $PSCmdlet.ShouldProcess($taskId, "Set $($body.Keys -join ' and ')")) { continue }
            $path = Get-KrTasksTaskPath $taskId
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Method PATCH -Path $path -Body $body -TargetId $taskId -Handled 404
            if ($response.Status -eq 404) { Write-KrTasksSoftFailure -Caller $PSCmdlet -NotFoundId $taskId }
            # Kestrun answers once per field.
            foreach ($field in $body.Keys) { $response.Ok }
        }
    }
}
