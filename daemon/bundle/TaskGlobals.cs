namespace KrTasks.Runtime;

/// <summary>
/// What C# and VB.NET task code sees. C# scripts get these members as globals; the generated
/// prelude also declares one typed local per argument. Lives in the default load context so that
/// code loaded into collectible contexts binds to the same type.
/// </summary>
public sealed class TaskGlobals
{
    /// <summary>Creates the globals for one run.</summary>
    public TaskGlobals(string taskId, TaskProgress progress, IReadOnlyDictionary<string, object?> arguments,
        CancellationToken cancellationToken)
    {
        TaskId = taskId;
        TaskProgress = progress;
        Arguments = arguments;
        CancellationToken = cancellationToken;
    }

    /// <summary>The task's id.</summary>
    public string TaskId { get; }

    /// <summary>The task's progress object.</summary>
    public TaskProgress TaskProgress { get; }

    /// <summary>The task's arguments by name (also declared as typed variables).</summary>
    public IReadOnlyDictionary<string, object?> Arguments { get; }

    /// <summary>Signalled when the task is cancelled or times out.</summary>
    public CancellationToken CancellationToken { get; }
}
