function Get-KrTaskState {
    <#
    .SYNOPSIS
        Gets the state of a task.
    .DESCRIPTION
        Outputs the state as a [KrTasks.TaskState] enum value with Kestrun's numbers: NotStarted 0,
        Running 1, Completed 2, Failed 3, Stopped 4, Stopping 5, and KrTasks' Queued 6. It compares
        with names and numbers alike ($state -eq 'Completed', $state -eq 2, [int]$state,
        $state -in 'Completed', 'Failed') and prints as its name. An unknown id outputs nothing
        ($null, as Kestrun's Get-KrTaskState) and writes no error record (-Verbose says why) unless
        -ErrorAction is given explicitly.
    .PARAMETER Id
        The id of the task; from the pipeline as strings or by property name.
    .PARAMETER Connection
        The daemon connection to use (from Add-KrTasks -PassThru; also from the pipeline). -Server,
        Kestrun's name, is an alias. Default: the default connection.
    .EXAMPLE
        $id = New-KrTask -ScriptBlock { 1 }
        Get-KrTaskState -Id $id

        Outputs NotStarted.
    .EXAMPLE
        $id = Start-KrTask -ScriptBlock { 'done' }
        Wait-KrTask -Id $id -Timeout 30 | Out-Null
        $state = Get-KrTaskState -Id $id
        '{0} = {1}; finished: {2}' -f $state, [int]$state, ($state -in 'Completed', 'Failed', 'Stopped')

        Outputs "Completed = 2; finished: True".
    .INPUTS
        System.String, or any object with an Id property; KrTasks.Connection (binds to -Connection).
    .OUTPUTS
        KrTasks.TaskState.
    .LINK
        Get-KrTask
    #>
    [CmdletBinding()]
    [OutputType('KrTasks.TaskState')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [Parameter(ValueFromPipeline)]
        [Alias('Server')]
        [PSTypeName('KrTasks.Connection')]
        [psobject] $Connection
    )
    process {
        $conn = Resolve-KrTasksConnection -Caller $PSCmdlet -Connection $Connection
        foreach ($taskId in (Get-KrTasksRequestedId -Caller $PSCmdlet -Id $Id -InputObject $_ -Required)) {
            $response = Invoke-KrTasksApi -Caller $PSCmdlet -Connection $conn -Path (Get-KrTasksTaskPath $taskId) -TargetId $taskId -Handled 404
            if ($response.Status -eq 404) { Write-KrTasksSoftFailure -Caller $PSCmdlet -NotFoundId $taskId }
            if ($response.Ok) { ConvertTo-KrTasksState (Get-KrTasksMember $response.Body 'State') }
        }
    }
}
