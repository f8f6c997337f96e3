function Write-KrTasksSoftFailure {
    <#
    .SYNOPSIS
        Reports a soft failure (unknown id, wrong state) of a task cmdlet the one way every cmdlet uses.
    .DESCRIPTION
        Kestrun's cmdlets answer an unknown id or a task in the wrong state with $null or $false and no
        error record, so a script under $ErrorActionPreference = 'Stop' keeps running; the caller outputs
        that value. This helper says why with Write-Verbose, always. Only when the caller's own
        invocation was given -ErrorAction explicitly (its $PSBoundParameters holds ErrorAction) does it
        also write the error record (ObjectNotFound for -NotFoundId, the answer's category for -Response),
        so PowerShell-style callers can still -ErrorAction Stop and catch, or -ErrorAction
        SilentlyContinue -ErrorVariable. -VerboseOnly never writes an error (for states that were never an
        error, such as stopping a finished task).
    #>
    [CmdletBinding(DefaultParameterSetName = 'NotFound')]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory, ParameterSetName = 'NotFound')] [string] $NotFoundId,
        [Parameter(Mandatory, ParameterSetName = 'Response')] $Response,
        [Parameter(ParameterSetName = 'Response')] [string] $TargetId,
        [Parameter(ParameterSetName = 'Response')] [string] $RecommendedAction,
        [Parameter(ParameterSetName = 'Response')] [switch] $VerboseOnly
    )
    if ($PSCmdlet.ParameterSetName -eq 'NotFound') {
        $record = New-KrTasksErrorRecord -NotFoundId $NotFoundId
    }
    else {
        $record = New-KrTasksErrorRecord -Response $Response -TargetId $TargetId
        if ($RecommendedAction) {
            $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($record.Exception.Message)
            $record.ErrorDetails.RecommendedAction = $RecommendedAction
        }
    }
    $Caller.WriteVerbose($record.Exception.Message)
    if ($VerboseOnly) { return }
    if ($Caller.MyInvocation.BoundParameters.ContainsKey('ErrorAction')) { $Caller.WriteError($record) }
}
