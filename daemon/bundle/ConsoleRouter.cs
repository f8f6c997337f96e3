using System.Collections.Concurrent;
using System.Text;

namespace KrTasks.Runtime;

/// <summary>
/// Replaces the process-wide <see cref="Console.Out"/>/<see cref="Console.Error"/> with writers that
/// route each write to the task whose async flow made it (an <see cref="AsyncLocal{T}"/> set when the
/// task's code starts). Writes from outside any task go to the original writer. Lines are buffered
/// per task until a newline so that one record holds one line.
/// </summary>
public sealed class ConsoleRouter : TextWriter
{
    private static readonly AsyncLocal<StreamSink?> CurrentSink = new();
    private static readonly object InstallGate = new();
    private static ConsoleRouter? _out;
    private static ConsoleRouter? _err;

    private readonly TextWriter _fallback;
    private readonly string _stream;
    private readonly ConcurrentDictionary<StreamSink, StringBuilder> _partial = new();

    private ConsoleRouter(TextWriter fallback, string stream)
    {
        _fallback = fallback;
        _stream = stream;
    }

    /// <inheritdoc />
    public override Encoding Encoding => Encoding.UTF8;

    /// <summary>Installs the routers (and an empty Console.In) once per process; later calls do nothing.</summary>
    public static void Install()
    {
        lock (InstallGate)
        {
            if (_out is not null) { return; }
            _out = new ConsoleRouter(Console.Out, "Information");
            _err = new ConsoleRouter(Console.Error, "Error");
            Console.SetOut(_out);
            Console.SetError(_err);
            // Task code must never read the daemon's own stdin (a terminal would block it forever).
            Console.SetIn(TextReader.Null);
        }
    }

    /// <summary>Routes console writes of the current async flow to <paramref name="sink"/>.</summary>
    public static void Enter(StreamSink? sink) => CurrentSink.Value = sink;

    /// <summary>Writes out any unterminated line a task left behind.</summary>
    public static void Flush(StreamSink sink)
    {
        _out?.FlushSink(sink);
        _err?.FlushSink(sink);
    }

    private void FlushSink(StreamSink sink)
    {
        if (_partial.TryRemove(sink, out var sb) && sb.Length > 0)
        {
            lock (sb) { sink.Add(_stream, sb.ToString()); }
        }
    }

    /// <inheritdoc />
    public override void Write(char value) => Write(value.ToString());

    /// <inheritdoc />
    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    /// <inheritdoc />
    public override void Write(string? value)
    {
        if (value is null) { return; }
        var sink = CurrentSink.Value;
        if (sink is null)
        {
            _fallback.Write(value);
            return;
        }
        var sb = _partial.GetOrAdd(sink, _ => new StringBuilder());
        lock (sb)
        {
            sb.Append(value);
            int nl;
            while ((nl = IndexOfNewLine(sb)) >= 0)
            {
                var line = sb.ToString(0, nl).TrimEnd('\r');
                sb.Remove(0, nl + 1);
                sink.Add(_stream, line);
            }
        }
    }

    /// <inheritdoc />
    public override void WriteLine(string? value) => Write((value ?? string.Empty) + "\n");

    /// <inheritdoc />
    public override void WriteLine() => Write("\n");

    private static int IndexOfNewLine(StringBuilder sb)
    {
        for (var i = 0; i < sb.Length; i++)
        {
            if (sb[i] == '\n') { return i; }
        }
        return -1;
    }
}
