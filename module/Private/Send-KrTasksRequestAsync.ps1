function Send-KrTasksRequestAsync {
    <#
    .SYNOPSIS
        Starts one request to a connection's daemon without waiting for the answer.
    .DESCRIPTION
        Builds the request as New-KrTasksRequest does (-Path relative to /api/v1, -Query escaped there),
        with -CliXmlBody sent as CliXml (application/clixml+xml, PSSerializer -CliXmlDepth levels deep, so
        its values keep their .NET types) and -AcceptCliXml asking for a CliXml answer (problems stay
        problem+json). Returns @{ Task; Request; Cancel }: Task is HttpClient.SendAsync's
        Task[HttpResponseMessage] (the body is buffered once it completes), Cancel the
        CancellationTokenSource that ends it after -TimeoutSeconds. Receive-KrTasksResponse reads the
        answer and disposes all three. Nothing here runs script on a .NET thread: PowerShell waits on the
        task itself (Task.WaitAny), so many requests can be in flight from one runspace.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)] $Connection,
        [string] $Method = 'GET',
        [Parameter(Mandatory)] [string] $Path,
        [System.Collections.IDictionary] $Query,
        [System.Collections.IDictionary] $CliXmlBody,
        [ValidateRange(1, 32)] [int] $CliXmlDepth = 6,
        [switch] $AcceptCliXml,
        [double] $TimeoutSeconds = 100
    )
    $request = New-KrTasksRequest -Connection $Connection -Method $Method -Path $Path -Query $Query
    if ($null -ne $CliXmlBody) {
        $xml = [System.Management.Automation.PSSerializer]::Serialize($CliXmlBody, $CliXmlDepth)
        $utf8 = [System.Text.UTF8Encoding]::new($false)
        $request.Content = [System.Net.Http.StringContent]::new($xml, $utf8, 'application/clixml+xml')
    }
    if ($AcceptCliXml) { $request.Headers.Accept.ParseAdd('application/clixml+xml, application/problem+json') }
    $cancel = [System.Threading.CancellationTokenSource]::new([timespan]::FromSeconds($TimeoutSeconds))
    try {
        $task = $Connection.HttpClient.SendAsync($request, $cancel.Token)
    }
    catch {
        $cancel.Dispose()
        $request.Dispose()
        throw
    }
    @{ Task = $task; Request = $request; Cancel = $cancel }
}
