function Receive-KrTasksResponse {
    <#
    .SYNOPSIS
        Reads the answer of a request started by Send-KrTasksRequestAsync and disposes it.
    .DESCRIPTION
        Waits for the request if it has not completed yet. Returns what Read-KrTasksResponse returns
        (Status, Ok, Body, Problem, TotalCount), with a CliXml answer's body deserialized (a result comes
        back as the hashtable {Id, CreatedAt, State, Output, Error}, its output typed as Receive-Job
        gives it). A request that got no answer (no daemon, TLS failure, timeout) is a terminating error
        of -Caller (see New-KrTasksErrorRecord -Exception); without -Caller the exception is thrown.
    #>
    [CmdletBinding()]
    param(
        [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [hashtable] $Pending,
        [Parameter(Mandatory)] $Connection
    )
    try {
        $response = $Pending.Task.GetAwaiter().GetResult()
    }
    catch {
        if ($Caller) { $Caller.ThrowTerminatingError((New-KrTasksErrorRecord -Exception $_.Exception -Connection $Connection)) }
        throw
    }
    finally {
        $Pending.Cancel.Dispose()
        $Pending.Request.Dispose()
    }
    $type = $response.Content.Headers.ContentType
    if ($null -eq $type -or $type.MediaType -ne 'application/clixml+xml') { return Read-KrTasksResponse -Response $response }
    try {
        $status = [int]$response.StatusCode
        $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
        $ok = $status -ge 200 -and $status -lt 300
        $body = if ($text.Trim()) { [System.Management.Automation.PSSerializer]::Deserialize($text) } else { $null }
        [pscustomobject]@{ Status = $status; Ok = $ok; Body = $body; Problem = if ($ok) { $null } else { $body }; TotalCount = $null }
    }
    finally {
        $response.Dispose()
    }
}
