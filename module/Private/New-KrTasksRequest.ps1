function New-KrTasksRequest {
    <#
    .SYNOPSIS
        Builds an HttpRequestMessage for a route under /api/v1 of a connection.
    .DESCRIPTION
        -Path is relative to /api/v1 and already escaped (see Get-KrTasksTaskPath); -Query values
        are escaped here; $null values are left out; booleans become true/false. -Body is sent as
        JSON (UTF-8), or with -CliXmlDepth as CliXml (application/clixml+xml: PowerShell's own serializer,
        PSSerializer, that many levels deep), so its values keep their .NET types. -AcceptCliXml asks for a
        CliXml answer (Read-KrTasksResponse deserializes it); error answers stay problem+json.
    #>
    [CmdletBinding()]
    [OutputType([System.Net.Http.HttpRequestMessage])]
    param(
        [Parameter(Mandatory)] $Connection,
        [string] $Method = 'GET',
        [Parameter(Mandatory)] [string] $Path,
        [System.Collections.IDictionary] $Query,
        [AllowNull()] $Body,
        [ValidateRange(0, 16)] [int] $CliXmlDepth,
        [switch] $AcceptCliXml
    )
    $uri = "$($Connection.Uri.AbsoluteUri.TrimEnd('/'))/api/v1/$Path"
    if ($Query) {
        $pairs = foreach ($key in $Query.Keys) {
            $value = $Query[$key]
            if ($null -eq $value) { continue }
            if ($value -is [bool]) { $value = if ($value) { 'true' } else { 'false' } }
            '{0}={1}' -f [uri]::EscapeDataString([string]$key), [uri]::EscapeDataString([string]$value)
        }
        if ($pairs) { $uri += '?' + ($pairs -join '&') }
    }
    $request = [System.Net.Http.HttpRequestMessage]::new([System.Net.Http.HttpMethod]::new($Method), $uri)
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    if ($null -ne $Body -and $CliXmlDepth -gt 0) {
        $xml = [System.Management.Automation.PSSerializer]::Serialize($Body, $CliXmlDepth)
        $request.Content = [System.Net.Http.StringContent]::new($xml, $utf8, $script:CliXmlMediaType)
    }
    elseif ($null -ne $Body) {
        $json = ConvertTo-Json -InputObject $Body -Depth 32 -Compress
        $request.Content = [System.Net.Http.StringContent]::new($json, $utf8, 'application/json')
    }
    # Problems (error answers) still come as problem+json, which the client's default Accept covers.
    if ($AcceptCliXml) { $request.Headers.Accept.ParseAdd("$script:CliXmlMediaType, application/problem+json") }
    $request
}
