using System.Collections.ObjectModel;

namespace KrTasks.Runtime;

/// <summary>
/// What C# and VB.NET task code sees. C# scripts get these members as globals; the generated
/// prelude also declares one typed local per argument. VB code gets this object as <c>g</c>.
/// Lives in the default load context so that code loaded into collectible contexts binds to the same type.
/// </summary>
public sealed class TaskGlobals
{
    private static readonly IReadOnlyDictionary<string, object?> NoGlobals =
        new ReadOnlyDictionary<string, object?>(new Dictionary<string, object?>());

    /// <summary>Creates the globals for one run.</summary>
    public TaskGlobals(string taskId, TaskProgress progress, IReadOnlyDictionary<string, object?> arguments,
        CancellationToken cancellationToken)
    {
        TaskId = taskId;
        TaskProgress = progress;
        Arguments = arguments;
        CancellationToken = cancellationToken;
        Locals = new Dictionary<string, object?>(arguments, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The task's id.</summary>
    public string TaskId { get; }

    /// <summary>The task's progress object.</summary>
    public TaskProgress TaskProgress { get; }

    /// <summary>The task's arguments by name (also declared as typed variables).</summary>
    public IReadOnlyDictionary<string, object?> Arguments { get; }

    /// <summary>
    /// Kestrun's name for the arguments: a dictionary of this run's own (names case-insensitive), so code
    /// may change it without touching <see cref="Arguments"/>.
    /// </summary>
    public Dictionary<string, object?> Locals { get; }

    /// <summary>
    /// Kestrun's server-wide shared state. KrTasks has none (every task is on its own, and the daemon may
    /// restart), so this is always empty and read-only.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Globals => NoGlobals;

    /// <summary>Signalled when the task is cancelled or times out.</summary>
    public CancellationToken CancellationToken { get; }
}
