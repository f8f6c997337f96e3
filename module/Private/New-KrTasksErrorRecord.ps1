function New-KrTasksErrorRecord {
    <#
    .SYNOPSIS
        Builds every ErrorRecord of the module: from an id, a category and a message, or for a daemon error
        answer, a missing task, or a transport failure.
    .DESCRIPTION
        -ErrorId, -Category, -Message: the one way module code makes an error of its own. The id is one of the
        KrTasks.* family (tests/pester/Style.Tests.ps1 checks every id given here); the exception is a new
        -ExceptionType (default InvalidOperationException) with the message, wrapping -InnerException when
        given; -TargetObject is the record's target.
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
    $categories = [System.Management.Automation.ErrorCategory]
    switch ($PSCmdlet.ParameterSetName) {
        'Id' {
            $recordId = $ErrorId
            $recordCategory, $target = $Category, $TargetObject
            $ex = if ($InnerException) { $ExceptionType::new($Message, $InnerException) } else { $ExceptionType::new($Message) }
        }
        'NotFound' {
            $message = "Cannot find a KrTasks task with the id '$NotFoundId'. Verify the value of the Id parameter " +
            '(Get-KrTask lists the tasks) and then try the command again.'
            $ex = [System.Management.Automation.ItemNotFoundException]::new($message)
            $recordId, $recordCategory = 'KrTasks.TaskNotFound', $categories::ObjectNotFound
            $target = $NotFoundId
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
            $recordId, $recordCategory = switch ($status) {
                400 { 'KrTasks.InvalidRequest', $categories::InvalidArgument }
                401 { 'KrTasks.Unauthorized', $categories::AuthenticationError }
                403 { 'KrTasks.Forbidden', $categories::PermissionDenied }
                404 { 'KrTasks.NotFound', $categories::ObjectNotFound }
                409 { 'KrTasks.WrongState', $categories::InvalidOperation }
                413 { 'KrTasks.TooLarge', $categories::LimitsExceeded }
                415 { 'KrTasks.UnsupportedMediaType', $categories::InvalidType }
                422 { 'KrTasks.CompileError', $categories::ParserError }
                503 { 'KrTasks.Unavailable', $categories::ResourceUnavailable }
                default { "KrTasks.Http$status", $categories::NotSpecified }
            }
            # 422 is also a well-formed request naming what does not exist (a parent, a directory): not a compile error.
            if ($status -eq 422 -and "$(Get-KrTasksMember $problem 'type')" -eq 'urn:krtasks:problem:unprocessable') {
                $recordId, $recordCategory = 'KrTasks.InvalidRequest', $categories::InvalidArgument
            }
            if ($ErrorIdOverride) { $recordId = $ErrorIdOverride }
            # ToObject: a status .NET has no name for (418) is still a status; a cast would refuse it.
            $statusCode = [enum]::ToObject([System.Net.HttpStatusCode], $status)
            $ex = [System.Net.Http.HttpRequestException]::new($detail, $null, $statusCode)
            if ($null -ne $problem) { $ex.Data['Problem'] = $problem }
            if ($diagnostics.Count -gt 0) { $ex.Data['Diagnostics'] = $diagnostics }
            $target = if ($diagnostics.Count -gt 0) { , [object[]]$diagnostics } elseif ($TargetId) { $TargetId } else { $null }
        }
        'Exception' {
            $uri = if ($Connection) { $Connection.Uri.AbsoluteUri.TrimEnd('/') } else { 'the daemon' }
            # Unwrap PowerShell's MethodInvocationException and .NET's AggregateException.
            $inner = $Exception
            while (($inner -is [System.Management.Automation.MethodInvocationException] -or $inner -is [System.AggregateException]) -and
                $inner.InnerException) {
                $inner = $inner.InnerException
            }
            $root = $inner
            while ($root.InnerException) { $root = $root.InnerException }
            $hint = 'Start one with Add-KrTasks (or `krtasks serve`), or check -Uri.'
            $tlsError = $inner -is [System.Net.Http.HttpRequestException] -and
            $inner.HttpRequestError -eq [System.Net.Http.HttpRequestError]::SecureConnectionError
            if ($inner -is [System.OperationCanceledException] -or $inner -is [System.TimeoutException]) {
                $message = "The KrTasks daemon at $uri did not answer in time."
                $recordId, $recordCategory = 'KrTasks.Timeout', $categories::OperationTimeout
            }
            elseif ($tlsError) {
                $pin = 'a trusted certificate'
                if ($Connection -and $Connection.CertificatePath) { $pin = "the pinned certificate $($Connection.CertificatePath)" }
                $message = "The KrTasks daemon at $uri did not prove its identity: its TLS certificate does not match $pin " +
                "($($root.Message)). If the daemon was restarted with a new certificate, run Add-KrTasks again."
                $recordId, $recordCategory = 'KrTasks.CertificateRejected', $categories::SecurityError
            }
            elseif ($inner -is [System.Net.Http.HttpRequestException]) {
                $message = "No KrTasks daemon answers at $uri ($($root.Message)). $hint"
                $recordId, $recordCategory = 'KrTasks.DaemonUnreachable', $categories::ConnectionError
            }
            else {
                $message = "The request to the KrTasks daemon at $uri failed: $($inner.Message)"
                $recordId, $recordCategory = 'KrTasks.RequestFailed', $categories::ConnectionError
            }
            $ex = [System.Net.Http.HttpRequestException]::new($message, $inner)
            $target = $uri
        }
    }
    # The module's one construction of an ErrorRecord.
    $record = [System.Management.Automation.ErrorRecord]::new($ex, $recordId, $recordCategory, $target)
    if ($PSCmdlet.ParameterSetName -eq 'Response' -and $status -eq 401) {
        $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($detail)
        $record.ErrorDetails.RecommendedAction = 'Run Add-KrTasks again (it reads the token from the state dir) or pass the right -Token.'
    }
    $record
}
