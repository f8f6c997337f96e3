function New-KrTasksErrorRecord {
    <#
    .SYNOPSIS
        Builds the ErrorRecord for a daemon error answer, a missing task, or a transport failure, or
        one of the module's own errors from an id, a category and a message.
    .DESCRIPTION
        -ErrorId, -Category, -Message: an error of the module itself (the id from the KrTasks.* family);
        the exception is a new -ExceptionType (default InvalidOperationException) with the message,
        wrapping -InnerException when given; -TargetObject is the record's target.
        -Response: the category follows the HTTP status and the message is the problem's detail
        (compile diagnostics appended, one per line); the problem and its diagnostics travel in
        Exception.Data['Problem'] and Exception.Data['Diagnostics'], and the diagnostics ({Id, Severity,
        Message, Line, Column}) are the record's TargetObject too (else -TargetId).
        -ErrorIdOverride replaces the error id the status gives (e.g. KrTasks.DuplicateId for a 409 on creation).
        -NotFoundId: the ObjectNotFound error every cmdlet writes for an unknown id (as Get-Job).
        -Exception: the request never got an answer (no daemon, TLS, timeout).
    #>
    [CmdletBinding(DefaultParameterSetName = 'Response')]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Id')] [string] $ErrorId,
        [Parameter(Mandatory, ParameterSetName = 'Id')] [System.Management.Automation.ErrorCategory] $Category,
        [Parameter(Mandatory, ParameterSetName = 'Id')] [string] $Message,
        [Parameter(ParameterSetName = 'Id')] [AllowNull()] $TargetObject,
        [Parameter(ParameterSetName = 'Id')] [type] $ExceptionType = [System.InvalidOperationException],
        [Parameter(ParameterSetName = 'Id')] [System.Exception] $InnerException,
        [Parameter(Mandatory, ParameterSetName = 'Response')] $Response,
        [Parameter(Mandatory, ParameterSetName = 'NotFound')] [string] $NotFoundId,
        [Parameter(Mandatory, ParameterSetName = 'Exception')] [System.Exception] $Exception,
        [Parameter(ParameterSetName = 'Exception')] $Connection,
        [Parameter(ParameterSetName = 'Response')] [AllowNull()] [AllowEmptyString()] [string] $TargetId,
        [Parameter(ParameterSetName = 'Response')] [string] $ErrorIdOverride
    )
    $category = [System.Management.Automation.ErrorCategory]
    switch ($PSCmdlet.ParameterSetName) {
        'Id' {
            $ex = if ($InnerException) { $ExceptionType::new($Message, $InnerException) } else { $ExceptionType::new($Message) }
            return [System.Management.Automation.ErrorRecord]::new($ex, $ErrorId, $Category, $TargetObject)
        }
        'NotFound' {
            $message = "Cannot find a KrTasks task with the id '$NotFoundId'. Verify the value of the Id parameter (Get-KrTask lists the tasks) and then try the command again."
            $ex = [System.Management.Automation.ItemNotFoundException]::new($message)
            $record = [System.Management.Automation.ErrorRecord]::new($ex, 'KrTasks.TaskNotFound', $category::ObjectNotFound, $NotFoundId)
            return $record
        }
        'Response' {
            $status = [int]$Response.Status
            $problem = $Response.Problem
            $detail = Get-KrTasksMember $problem 'detail'
            if (-not $detail) { $detail = Get-KrTasksMember $problem 'title' }
            if (-not $detail) { $detail = "The KrTasks daemon answered HTTP $status." }
            if ($problem -is [string] -and $problem.Trim()) { $detail = $problem.Trim() }
            $diagnostics = @(Get-KrTasksMember $problem 'diagnostics')
            if ($diagnostics.Count -gt 0) {
                $lines = foreach ($d in $diagnostics) {
                    $line = Get-KrTasksMember $d 'Line'
                    $column = Get-KrTasksMember $d 'Column'
                    $where = if ($null -ne $line) { "($line,$column) " } else { '' }
                    "  $where$(Get-KrTasksMember $d 'Severity' 'Error') $(Get-KrTasksMember $d 'Id' ''): $(Get-KrTasksMember $d 'Message' '')"
                }
                $detail = $detail + [Environment]::NewLine + ($lines -join [Environment]::NewLine)
            }
            $map = @{
                400 = @('KrTasks.InvalidRequest', $category::InvalidArgument)
                401 = @('KrTasks.Unauthorized', $category::AuthenticationError)
                403 = @('KrTasks.Forbidden', $category::PermissionDenied)
                404 = @('KrTasks.NotFound', $category::ObjectNotFound)
                409 = @('KrTasks.WrongState', $category::InvalidOperation)
                413 = @('KrTasks.TooLarge', $category::LimitsExceeded)
                415 = @('KrTasks.UnsupportedMediaType', $category::InvalidType)
                422 = @('KrTasks.CompileError', $category::ParserError)
                503 = @('KrTasks.Unavailable', $category::ResourceUnavailable)
            }
            $errorId, $errorCategory = if ($map.ContainsKey($status)) { $map[$status] } else { @("KrTasks.Http$status", $category::NotSpecified) }
            # 422 is also a well-formed request naming what does not exist (a parent, a directory): not a compile error.
            if ($status -eq 422 -and "$(Get-KrTasksMember $problem 'type')" -eq 'urn:krtasks:problem:unprocessable') {
                $errorId, $errorCategory = 'KrTasks.InvalidRequest', $category::InvalidArgument
            }
            if ($ErrorIdOverride) { $errorId = $ErrorIdOverride }
            $ex = [System.Net.Http.HttpRequestException]::new($detail, $null, [System.Net.HttpStatusCode]$status)
            if ($null -ne $problem) { $ex.Data['Problem'] = $problem }
            if ($diagnostics.Count -gt 0) { $ex.Data['Diagnostics'] = $diagnostics }
            $target = if ($diagnostics.Count -gt 0) { , [object[]]$diagnostics } elseif ($TargetId) { $TargetId } else { $null }
            $record = [System.Management.Automation.ErrorRecord]::new($ex, $errorId, $errorCategory, $target)
            if ($status -eq 401) {
                $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($detail)
                $record.ErrorDetails.RecommendedAction = 'Run Add-KrTasks again (it reads the token from the state dir) or pass the right -Token.'
            }
            return $record
        }
        'Exception' {
            $uri = if ($Connection) { $Connection.Uri.AbsoluteUri.TrimEnd('/') } else { 'the daemon' }
            # Unwrap PowerShell's MethodInvocationException and .NET's AggregateException.
            $inner = $Exception
            while (($inner -is [System.Management.Automation.MethodInvocationException] -or $inner -is [System.AggregateException]) -and $inner.InnerException) {
                $inner = $inner.InnerException
            }
            $root = $inner
            while ($root.InnerException) { $root = $root.InnerException }
            $hint = 'Start one with Add-KrTasks (or `krtasks serve`), or check -Uri.'
            if ($inner -is [System.OperationCanceledException] -or $inner -is [System.TimeoutException]) {
                $message = "The KrTasks daemon at $uri did not answer in time."
                $errorId, $errorCategory = 'KrTasks.Timeout', $category::OperationTimeout
            }
            elseif ($inner -is [System.Net.Http.HttpRequestException] -and $inner.HttpRequestError -eq [System.Net.Http.HttpRequestError]::SecureConnectionError) {
                $pin = if ($Connection -and $Connection.CertificatePath) { "the pinned certificate $($Connection.CertificatePath)" } else { 'a trusted certificate' }
                $message = "The KrTasks daemon at $uri did not prove its identity: its TLS certificate does not match $pin ($($root.Message)). If the daemon was restarted with a new certificate, run Add-KrTasks again."
                $errorId, $errorCategory = 'KrTasks.CertificateRejected', $category::SecurityError
            }
            elseif ($inner -is [System.Net.Http.HttpRequestException]) {
                $message = "No KrTasks daemon answers at $uri ($($root.Message)). $hint"
                $errorId, $errorCategory = 'KrTasks.DaemonUnreachable', $category::ConnectionError
            }
            else {
                $message = "The request to the KrTasks daemon at $uri failed: $($inner.Message)"
                $errorId, $errorCategory = 'KrTasks.RequestFailed', $category::ConnectionError
            }
            $ex = [System.Net.Http.HttpRequestException]::new($message, $inner)
            return [System.Management.Automation.ErrorRecord]::new($ex, $errorId, $errorCategory, $uri)
        }
    }
}
