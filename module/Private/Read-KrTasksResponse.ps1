function Read-KrTasksResponse {
    <#
    .SYNOPSIS
        Turns an HttpResponseMessage into a plain object and disposes it.
    .DESCRIPTION
        Output: Status (int), Ok (2xx), Body (parsed JSON, deserialized CliXml, or $null), Problem (the RFC 9457 problem
        for an error answer, else $null), TotalCount (X-Total-Count or $null).
        -DateKind String keeps ISO dates as text (records convert them to UTC themselves); task
        output uses Default so dates come back as [datetime], as Invoke-RestMethod gives them.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Net.Http.HttpResponseMessage] $Response,
        [ValidateSet('Default', 'Local', 'Utc', 'Offset', 'String')] [string] $DateKind = 'String'
    )
    try {
        $status = [int]$Response.StatusCode
        $text = $Response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
        $mediaType = if ($Response.Content.Headers.ContentType) { $Response.Content.Headers.ContentType.MediaType } else { '' }
        $body = $null
        if ($text -and $text.Trim()) {
            if ($mediaType -eq $script:CliXmlMediaType) {
                $body = [System.Management.Automation.PSSerializer]::Deserialize($text)
            }
            elseif ($mediaType -match 'json') {
                $convert = @{ InputObject = $text; Depth = 100; NoEnumerate = $true }
                # -DateKind is PowerShell 7.5+; 7.4 gives [datetime] values, which records convert as well.
                if ($script:JsonHasDateKind) { $convert.DateKind = $DateKind }
                $body = ConvertFrom-Json @convert
            }
            else {
                $body = $text
            }
        }
        $total = $null
        $values = $null
        if ($Response.Headers.TryGetValues('X-Total-Count', [ref]$values)) {
            $total = [int]($values | Select-Object -First 1)
        }
        $ok = $status -ge 200 -and $status -lt 300
        [pscustomobject]@{
            Status     = $status
            Ok         = $ok
            Body       = $body
            Problem    = if ($ok) { $null } else { $body }
            TotalCount = $total
        }
    }
    finally {
        $Response.Dispose()
    }
}
