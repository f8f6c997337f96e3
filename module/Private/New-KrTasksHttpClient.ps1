function New-KrTasksHttpClient {
    <#
    .SYNOPSIS
        Creates the HttpClient of one connection, trusting exactly the given certificate.
    .DESCRIPTION
        With -CertificatePath the daemon's certificate becomes the only trust anchor
        (X509ChainPolicy, CustomRootTrust): the chain must end at that certificate and the host
        name must match its SAN. This is plain property setting, so no script block runs on a
        .NET thread pool thread (where there is no runspace). Without it the operating system's
        trust store applies. -SkipCertificateCheck uses .NET's own accept-all validator; only an
        explicit switch gets there. A -CertificatePath that holds no readable certificate throws the
        KrTasks.CertificateUnreadable error (InvalidData).
    #>
    [CmdletBinding()]
    [OutputType([System.Net.Http.HttpClient])]
    param(
        [string] $CertificatePath,
        [switch] $SkipCertificateCheck,
        [string] $Token
    )
    if ($SkipCertificateCheck) {
        # A .NET-implemented delegate: unlike a script block it needs no runspace.
        $handler = [System.Net.Http.HttpClientHandler]::new()
        $handler.ServerCertificateCustomValidationCallback = [System.Net.Http.HttpClientHandler]::DangerousAcceptAnyServerCertificateValidator
    }
    else {
        $handler = [System.Net.Http.SocketsHttpHandler]::new()
        $handler.PooledConnectionIdleTimeout = [timespan]::FromMinutes(2)
        $handler.ConnectTimeout = [timespan]::FromSeconds(10)
        if ($CertificatePath) {
            $policy = [System.Security.Cryptography.X509Certificates.X509ChainPolicy]::new()
            $policy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
            # A self-signed certificate has no CRL or OCSP endpoint to ask.
            $policy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
            try {
                $text = [System.IO.File]::ReadAllText($CertificatePath)
                if ($text.Contains('-----BEGIN')) {
                    $policy.CustomTrustStore.ImportFromPemFile($CertificatePath)
                }
                else {
                    # X509CertificateLoader is .NET 9+ (PowerShell 7.5+); 7.4 has the constructor only.
                    $loader = 'System.Security.Cryptography.X509Certificates.X509CertificateLoader' -as [type]
                    $certificate = if ($loader) { $loader::LoadCertificateFromFile($CertificatePath) }
                    else { [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($CertificatePath) }
                    [void]$policy.CustomTrustStore.Add($certificate)
                }
                if ($policy.CustomTrustStore.Count -eq 0) { throw [System.ArgumentException]::new('it holds no certificate') }
            }
            catch {
                $handler.Dispose()
                $reason = if ($_.Exception.InnerException) { $_.Exception.InnerException.Message } else { $_.Exception.Message }
                $message = "Cannot read a certificate from '$CertificatePath' ($reason): give the daemon's cert.pem (PEM or DER)."
                throw (New-KrTasksErrorRecord -ErrorId 'KrTasks.CertificateUnreadable' -Category InvalidData -Message $message `
                        -TargetObject $CertificatePath -ExceptionType ([System.ArgumentException]) -InnerException $_.Exception)
            }
            $handler.SslOptions.CertificateChainPolicy = $policy
        }
    }
    $client = [System.Net.Http.HttpClient]::new($handler, $true)
    # Each request carries its own timeout (long polls of Wait-KrTask need more than the default).
    $client.Timeout = [System.Threading.Timeout]::InfiniteTimeSpan
    $client.DefaultRequestHeaders.Accept.ParseAdd('application/json')
    $client.DefaultRequestHeaders.UserAgent.ParseAdd("KrTasks-PowerShell/$($script:ModuleVersion)")
    if ($Token) {
        $client.DefaultRequestHeaders.Authorization = [System.Net.Http.Headers.AuthenticationHeaderValue]::new('Bearer', $Token)
    }
    $client
}
