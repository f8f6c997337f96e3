using System.Collections.Concurrent;

namespace KrTasks.Runtime;

/// <summary>One captured stream record.</summary>
/// <param name="Stream">Error, Warning, Verbose, Debug or Information.</param>
/// <param name="Message">The record's text.</param>
/// <param name="Time">When it was written (UTC).</param>
public sealed record StreamRecord(string Stream, string Message, DateTime Time);

/// <summary>
/// Per-task buffer of stream records, written from any thread and drained by the daemon.
/// Each stream keeps at most <see cref="LimitPerStream"/> records (the first ones); later records
/// of that stream are counted in <see cref="Dropped"/> instead, so a flood cannot exhaust memory.
/// </summary>
public sealed class StreamSink
{
    private readonly ConcurrentQueue<StreamRecord> _pending = new();
    private readonly ConcurrentDictionary<string, int> _kept = new();
    private readonly ConcurrentDictionary<string, long> _dropped = new();

    /// <summary>Creates a sink keeping up to <paramref name="limitPerStream"/> records per stream.</summary>
    public StreamSink(int limitPerStream) => LimitPerStream = Math.Max(1, limitPerStream);

    /// <summary>Maximum records kept per stream.</summary>
    public int LimitPerStream { get; }

    /// <summary>Set when the code tried to prompt for input (the message of the failed prompt).</summary>
    public string? PromptAttempt { get; internal set; }

    /// <summary>Adds a record unless its stream is full.</summary>
    public void Add(string stream, string message)
    {
        var kept = _kept.AddOrUpdate(stream, 1, (_, n) => n + 1);
        if (kept > LimitPerStream)
        {
            _dropped.AddOrUpdate(stream, 1, (_, n) => n + 1);
            return;
        }
        _pending.Enqueue(new StreamRecord(stream, message, DateTime.UtcNow));
    }

    /// <summary>Removes and returns the records written since the last drain, in order.</summary>
    public StreamRecord[] Drain()
    {
        var list = new List<StreamRecord>();
        while (_pending.TryDequeue(out var r)) { list.Add(r); }
        return list.ToArray();
    }

    /// <summary>True when records are waiting to be drained.</summary>
    public bool HasPending => !_pending.IsEmpty;

    /// <summary>Records dropped per stream, as "Stream=count" strings (empty when none).</summary>
    public string[] Dropped => _dropped.Select(kv => $"{kv.Key}={kv.Value}").ToArray();
}
