function Test-KrTasksDaemon {
    <#
    .SYNOPSIS
        Asks /api/v1/health of a connection; returns the health answer ({Status, Version}) or $null.
    .DESCRIPTION
        Never writes errors: it answers "is that daemon there and is it the one we trust". With
        -PassThruError the exception of the failed attempt is returned instead of $null.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Connection,
        [double] $TimeoutSeconds = 3,
        [switch] $PassThruError
    )
    try {
        $response = Read-KrTasksResponse -Response (Send-KrTasksRequest -Connection $Connection -Path 'health' -TimeoutSeconds $TimeoutSeconds)
        if ($response.Ok -and $null -ne $response.Body) { return $response.Body }
        Write-Verbose "Health check of $($Connection.Uri) answered HTTP $($response.Status)."
        $null
    }
    catch {
        Write-Verbose "Health check of $($Connection.Uri) failed: $($_.Exception.Message)"
        if ($PassThruError) { return $_.Exception }
        $null
    }
}
