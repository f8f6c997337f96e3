function Invoke-KrTasksApi {
    <#
    .SYNOPSIS
        Sends one request to the daemon and returns the answer (see Read-KrTasksResponse).
    .DESCRIPTION
        Error answers become ErrorRecords written through -Caller (the public cmdlet, so the error
        names it; see Write-KrTasksResponseError), except the statuses in -Handled, which the
        caller deals with itself; a 404 for a task (-TargetId) becomes the standard ObjectNotFound
        error. With -Terminating every error answer not in -Handled is a terminating error of the
        caller instead (hard failures such as a refused creation). A request that gets no answer at all is a
        terminating error of the caller: one clear message instead of one per input.
        The answer object is returned in every case but the terminating ones. -CliXmlDepth and -AcceptCliXml
        choose the CliXml form of the API (see New-KrTasksRequest).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Connection,
        [string] $Method = 'GET',
        [Parameter(Mandatory)] [string] $Path,
        [System.Collections.IDictionary] $Query,
        [AllowNull()] $Body,
        [string] $TargetId,
        [int[]] $Handled = @(),
        [switch] $Terminating,
        [double] $TimeoutSeconds = 100,
        [string] $DateKind = 'String',
        [int] $CliXmlDepth,
        [switch] $AcceptCliXml
    )
    $request = @{ Caller = $Caller; Connection = $Connection; Method = $Method; Path = $Path; Query = $Query; Body = $Body }
    $raw = Send-KrTasksRequest @request -TimeoutSeconds $TimeoutSeconds -CliXmlDepth $CliXmlDepth -AcceptCliXml:$AcceptCliXml
    $response = Read-KrTasksResponse -Response $raw -DateKind $DateKind
    if (-not $response.Ok -and $Terminating -and $response.Status -notin $Handled) {
        $Caller.ThrowTerminatingError((New-KrTasksErrorRecord -Response $response -TargetId $TargetId))
    }
    if (-not $response.Ok -and $response.Status -notin $Handled) {
        Write-KrTasksResponseError -Caller $Caller -Response $response -TargetId $TargetId
    }
    $response
}
