using System.Collections;

namespace KrTasks.Runtime;

/// <summary>
/// The environment variables and current directory of a worker process, per task: <see cref="Capture"/>
/// records the worker's own once, <see cref="Apply"/> sets a task's (its variables on top, its directory),
/// and <see cref="Restore"/> puts the worker's back exactly — whatever the task changed, added or removed —
/// so nothing of one task is seen by the next task on the same worker. .NET on Unix keeps its own copy of
/// the environment, which is what task code (<c>$env:X</c>, <c>Environment.GetEnvironmentVariable</c>) and
/// the processes it starts see; that copy is what is set and restored here.
/// </summary>
public static class ProcessContext
{
    private static Dictionary<string, string>? _baseline;
    private static string _directory = "";

    /// <summary>Records the current variables and directory as the ones to restore.</summary>
    public static void Capture()
    {
        var baseline = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            baseline[(string)e.Key] = (string?)e.Value ?? "";
        }
        _baseline = baseline;
        _directory = Environment.CurrentDirectory;
    }

    /// <summary>Sets the variables <paramref name="names"/> to <paramref name="values"/> (pairwise) and changes
    /// to <paramref name="directory"/> when it is not null.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist (any more).</exception>
    public static void Apply(string[] names, string[] values, string? directory)
    {
        if (names.Length != values.Length) { throw new ArgumentException("One value per name is needed."); }
        for (var i = 0; i < names.Length; i++) { Environment.SetEnvironmentVariable(names[i], values[i]); }
        if (directory is not null) { Environment.CurrentDirectory = directory; }
    }

    /// <summary>Back to what <see cref="Capture"/> recorded.</summary>
    public static void Restore()
    {
        var baseline = _baseline ?? throw new InvalidOperationException("Capture() was not called.");
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var name = (string)e.Key;
            if (!baseline.ContainsKey(name)) { Environment.SetEnvironmentVariable(name, null); }
        }
        foreach (var (name, value) in baseline)
        {
            if (Environment.GetEnvironmentVariable(name) != value) { Environment.SetEnvironmentVariable(name, value); }
        }
        Environment.CurrentDirectory = _directory;
    }
}
