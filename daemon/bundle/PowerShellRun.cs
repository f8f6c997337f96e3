using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;

namespace KrTasks.Runtime;

/// <summary>
/// One PowerShell invocation on a runspace the daemon provides. Stream records are moved into the
/// task's <see cref="StreamSink"/> by handlers that run on the pipeline thread (no Python involved),
/// Write-Progress updates the task's <see cref="TaskProgress"/>, and a prompt for input stops the
/// pipeline at once (there is no one to answer it).
/// </summary>
public sealed class PowerShellRun : IDisposable
{
    private readonly PowerShell _ps;
    private readonly PSDataCollection<PSObject> _output = new();
    private readonly StreamSink _sink;
    private readonly TaskProgress _progress;
    private readonly int _maxOutputItems;
    private long _droppedOutput;
    private IAsyncResult? _pending;

    /// <summary>Prepares the invocation; variables are set on <paramref name="runspace"/> at once.</summary>
    public PowerShellRun(Runspace runspace, string code, IReadOnlyDictionary<string, object?> arguments,
        string taskId, TaskProgress progress, StreamSink sink, int maxOutputItems)
    {
        _sink = sink;
        _maxOutputItems = Math.Max(1, maxOutputItems);
        _progress = progress;
        _ps = PowerShell.Create();
        _ps.Runspace = runspace;
        var proxy = runspace.SessionStateProxy;
        foreach (var (name, value) in arguments) { proxy.SetVariable(name, value); }
        proxy.SetVariable("TaskProgress", progress);
        proxy.SetVariable("TaskId", taskId);
        _ps.AddScript(code);
        var declared = ParamNames(code);
        foreach (var (name, value) in arguments)
        {
            if (declared.Contains(name)) { _ps.AddParameter(name, value); }
        }
        Hook();
    }

    /// <summary>Parse errors of a PowerShell script (empty when it parses).</summary>
    public static CompileDiagnostic[] Parse(string code)
    {
        Parser.ParseInput(code, out _, out var errors);
        return errors.Select(e => new CompileDiagnostic(e.ErrorId, "Error", e.Message,
            e.Extent.StartLineNumber, e.Extent.StartColumnNumber)).ToArray();
    }

    private static HashSet<string> ParamNames(string code)
    {
        var ast = Parser.ParseInput(code, out _, out _);
        var names = ast.ParamBlock?.Parameters.Select(p => p.Name.VariablePath.UserPath) ?? Enumerable.Empty<string>();
        return new HashSet<string>(names, StringComparer.OrdinalIgnoreCase);
    }

    private void Hook()
    {
        // Output beyond the limit is dropped as it arrives (counted), so a flood cannot exhaust memory.
        _output.DataAdded += (_, e) =>
        {
            if (_output.Count > _maxOutputItems)
            {
                _output.RemoveAt(e.Index);
                Interlocked.Increment(ref _droppedOutput);
            }
        };
        var s = _ps.Streams;
        s.Error.DataAdded += (_, _) =>
        {
            foreach (var r in s.Error.ReadAll())
            {
                _sink.Add("Error", r.ToString());
                if (_sink.PromptAttempt is null && FindHostException(r.Exception) is { } prompt)
                {
                    _sink.PromptAttempt = prompt.Message;
                    _ps.BeginStop(null, null);
                }
            }
        };
        s.Warning.DataAdded += (_, _) => { foreach (var r in s.Warning.ReadAll()) { _sink.Add("Warning", r.Message); } };
        s.Verbose.DataAdded += (_, _) => { foreach (var r in s.Verbose.ReadAll()) { _sink.Add("Verbose", r.Message); } };
        s.Debug.DataAdded += (_, _) => { foreach (var r in s.Debug.ReadAll()) { _sink.Add("Debug", r.Message); } };
        s.Information.DataAdded += (_, _) =>
        {
            foreach (var r in s.Information.ReadAll()) { _sink.Add("Information", r.MessageData?.ToString() ?? ""); }
        };
        s.Progress.DataAdded += (_, _) =>
        {
            foreach (var r in s.Progress.ReadAll())
            {
                _progress.Activity = r.Activity;
                _progress.CurrentOperation = r.CurrentOperation;
                _progress.SecondsRemaining = r.SecondsRemaining;
                if (r.PercentComplete >= 0) { _progress.PercentComplete = r.PercentComplete; }
                if (!string.IsNullOrWhiteSpace(r.StatusDescription)) { _progress.StatusMessage = r.StatusDescription; }
            }
        };
    }

    // $host.UI calls wrap the HostException in a MethodInvocationException.
    private static HostException? FindHostException(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is HostException host) { return host; }
        }
        return null;
    }

    /// <summary>Makes <paramref name="path"/> the script's current location (<c>$PWD</c>) before it starts.</summary>
    /// <exception cref="ItemNotFoundException">No such directory.</exception>
    public void SetLocation(string path) => _ps.Runspace.SessionStateProxy.Path.SetLocation(path);

    /// <summary>Starts the pipeline without blocking.</summary>
    public void Start() => _pending = _ps.BeginInvoke<PSObject, PSObject>(null, _output);

    /// <summary>Waits up to <paramref name="milliseconds"/> for the pipeline; true when it has ended.</summary>
    public bool Wait(int milliseconds) => _pending?.AsyncWaitHandle.WaitOne(milliseconds) ?? true;

    /// <summary>Asks the pipeline to stop; returns at once.</summary>
    public void Stop()
    {
        try { _ps.BeginStop(null, null); }
        catch (ObjectDisposedException) { }
        catch (InvalidOperationException) { }
    }

    /// <summary>
    /// Ends the invocation after <see cref="Wait"/> returned true: null on success, else the error
    /// (also for a stopped pipeline: the daemon knows whether it asked for the stop).
    /// </summary>
    public ErrorInfo? Finish()
    {
        try
        {
            _ps.EndInvoke(_pending!);
            return null;
        }
        catch (Exception ex)
        {
            return ErrorInfo.FromPowerShell(ex);
        }
    }

    /// <summary>Output objects dropped because the item limit was reached.</summary>
    public long DroppedOutput => Interlocked.Read(ref _droppedOutput);

    /// <summary>True when the pipeline ended stopped (a stop request or a prompt).</summary>
    public bool WasStopped => _ps.InvocationStateInfo.State == PSInvocationState.Stopped;

    /// <summary>The output objects as JSON (see <see cref="OutputConverter.ToJsonArray"/>).</summary>
    public OutputConverter.Converted OutputJson(int maxDepth, long maxBytes) =>
        OutputConverter.ToJsonArray(TakeOutput(), maxDepth, maxBytes);

    /// <summary>The output objects as CliXml (see <see cref="OutputConverter.ToCliXml"/>): the same objects as
    /// <see cref="OutputJson"/>, whichever is asked first.</summary>
    public string OutputCliXml(int depth, long maxBytes) => OutputConverter.ToCliXml(TakeOutput().ToArray(), depth, maxBytes);

    private List<PSObject>? _taken;

    private List<PSObject> TakeOutput() => _taken ??= _output.ReadAll().ToList();

    /// <inheritdoc />
    public void Dispose()
    {
        _ps.Dispose();
        _output.Dispose();
    }
}
