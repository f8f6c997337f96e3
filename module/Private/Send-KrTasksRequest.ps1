function Send-KrTasksRequest {
    <#
    .SYNOPSIS
        Sends one request to a connection's daemon and waits for the answer: an
        HttpResponseMessage, which Read-KrTasksResponse reads and disposes.
    .DESCRIPTION
        Builds the request (see New-KrTasksRequest), gives it -TimeoutSeconds, and disposes the
        request and its timeout once the answer is there (its body is already buffered).
        A request that gets no answer at all (no daemon, TLS failure, timeout) is a terminating
        error of -Caller (see New-KrTasksErrorRecord -Exception); without -Caller the exception
        is thrown as it is, for callers that only ask whether the daemon answers.
    #>
    [CmdletBinding()]
    [OutputType([System.Net.Http.HttpResponseMessage])]
    param(
        [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] $Connection,
        [string] $Method = 'GET',
        [Parameter(Mandatory)] [string] $Path,
        [System.Collections.IDictionary] $Query,
        [AllowNull()] $Body,
        [int] $CliXmlDepth,
        [switch] $AcceptCliXml,
        [Parameter(Mandatory)] [double] $TimeoutSeconds
    )
    $format = @{ CliXmlDepth = $CliXmlDepth; AcceptCliXml = $AcceptCliXml }
    $request = New-KrTasksRequest -Connection $Connection -Method $Method -Path $Path -Query $Query -Body $Body @format
    $cts = [System.Threading.CancellationTokenSource]::new([timespan]::FromSeconds($TimeoutSeconds))
    try {
        $Connection.HttpClient.SendAsync($request, $cts.Token).GetAwaiter().GetResult()
    }
    catch {
        if ($Caller) { $Caller.ThrowTerminatingError((New-KrTasksErrorRecord -Exception $_.Exception -Connection $Connection)) }
        throw
    }
    finally {
        $cts.Dispose()
        $request.Dispose()
    }
}
