namespace KrTasks.Runtime;

/// <summary>
/// Progress of one task, visible to scripts as <c>$TaskProgress</c> / <c>TaskProgress</c>.
/// Written by the script (any thread) and by Write-Progress capture; read by the daemon.
/// Every change bumps <see cref="Version"/> so readers can tell cheaply whether anything moved.
/// </summary>
public sealed class TaskProgress
{
    private readonly object _gate = new();
    private int _percent;
    private string _status = "Not started";
    private string? _activity;
    private string? _operation;
    private int? _secondsRemaining;
    private long _version;

    /// <summary>Percent complete, clamped to 0..100.</summary>
    public int PercentComplete
    {
        get { lock (_gate) { return _percent; } }
        set { lock (_gate) { _percent = Math.Clamp(value, 0, 100); _version++; } }
    }

    /// <summary>Status message; never blank (a blank value is ignored and the previous one kept).</summary>
    public string StatusMessage
    {
        get { lock (_gate) { return _status; } }
        set { lock (_gate) { if (!string.IsNullOrWhiteSpace(value)) { _status = value; _version++; } } }
    }

    /// <summary>Activity of the last Write-Progress record (null until one arrives).</summary>
    public string? Activity
    {
        get { lock (_gate) { return _activity; } }
        set { lock (_gate) { _activity = value; _version++; } }
    }

    /// <summary>CurrentOperation of the last Write-Progress record.</summary>
    public string? CurrentOperation
    {
        get { lock (_gate) { return _operation; } }
        set { lock (_gate) { _operation = value; _version++; } }
    }

    /// <summary>SecondsRemaining of the last Write-Progress record (null when unknown).</summary>
    public int? SecondsRemaining
    {
        get { lock (_gate) { return _secondsRemaining; } }
        set { lock (_gate) { _secondsRemaining = value is < 0 ? null : value; _version++; } }
    }

    /// <summary>Monotonic change counter.</summary>
    public long Version { get { lock (_gate) { return _version; } } }

    /// <summary>Marks the work complete: 100 percent.</summary>
    public void Complete(string message = "Completed") => Set(100, message);

    /// <summary>Marks the work failed: 100 percent (the task's State is decided by how the code ends).</summary>
    public void Fail(string message = "Failed") => Set(100, message);

    /// <summary>Marks the work cancelled: 100 percent.</summary>
    public void Cancel(string message = "Cancelled") => Set(100, message);

    /// <summary>Back to 0 percent.</summary>
    public void Reset(string message = "Not started") => Set(0, message);

    /// <summary>Sets percent and message together (one version bump).</summary>
    public void Set(int percent, string message)
    {
        lock (_gate)
        {
            _percent = Math.Clamp(percent, 0, 100);
            if (!string.IsNullOrWhiteSpace(message)) { _status = message; }
            _version++;
        }
    }

    /// <summary>
    /// A consistent copy as an object array: [PercentComplete, StatusMessage, Activity,
    /// CurrentOperation, SecondsRemaining (or null), Version]. One call, one lock, for the daemon.
    /// </summary>
    public object?[] Snapshot()
    {
        lock (_gate)
        {
            return new object?[] { _percent, _status, _activity, _operation, _secondsRemaining, _version };
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{PercentComplete}% {StatusMessage}";
}
