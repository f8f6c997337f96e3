function New-KrTasksRequest {
    <#
    .SYNOPSIS
        Builds an HttpRequestMessage for a route under /api/v1 of a connection.
    .DESCRIPTION
        -Path is relative to /api/v1 and already escaped (see Get-KrTasksTaskPath); -Query values
        are escaped here; $null values are left out; booleans become true/false. -Body is sent as
        JSON (UTF-8).
    #>
    [CmdletBinding()]
    [OutputType([System.Net.Http.HttpRequestMessage])]
    param(
        [Parameter(Mandatory)] $Connection,
        [string] $Method = 'GET',
        [Parameter(Mandatory)] [string] $Path,
        [System.Collections.IDictionary] $Query,
        [AllowNull()] $Body
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
    if ($null -ne $Body) {
        $json = ConvertTo-Json -InputObject $Body -Depth 32 -Compress
        $request.Content = [System.Net.Http.StringContent]::new($json, [System.Text.UTF8Encoding]::new($false), 'application/json')
    }
    $request
}
