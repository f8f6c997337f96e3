using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;

namespace KrTasks.Runtime;

/// <summary>
/// Runspace reuse after a verified reset (tasks with <c>ReuseRunspace</c>). A baseline is the state of a
/// freshly opened runspace; <see cref="TryReset"/> puts a used runspace back to it and then compares: only a
/// runspace whose state equals the baseline is reused, any other is disposed by the caller.
/// <para>
/// Compared (and reset): global variables (names, and the values of strings, numbers, enums and booleans —
/// the preference variables among them — plus the type and count of collections such as
/// <c>$PSDefaultParameterValues</c>), functions and aliases (names and definitions), PowerShell drives,
/// imported modules, the location, the language mode, event subscribers, jobs and breakpoints.
/// <c>ResetRunspaceState</c> (as ForEach-Object -Parallel uses) restores variables, the location, $Error
/// and history; this class also removes the functions, aliases, drives, modules, jobs, subscribers and
/// breakpoints a task added, turns strict mode off and restores the language mode. Not runspace state, so
/// not reset (the same for fresh runspaces in one process): loaded assemblies and Add-Type types,
/// environment variables, static .NET state.
/// </para>
/// </summary>
public sealed class RunspaceBaseline
{
    private const string CleanupScript = @"
param([string[]] $Modules)
Set-StrictMode -Off
Get-Job | Remove-Job -Force
Get-EventSubscriber -Force | Unregister-Event -Force
Get-PSBreakpoint | Remove-PSBreakpoint
Get-Module | Where-Object { $Modules -notcontains $_.Name } | Remove-Module -Force
";

    // Automatic variables that hold per-invocation or process facts, not state a task leaves behind.
    private static readonly HashSet<string> Volatile = new(StringComparer.OrdinalIgnoreCase)
    {
        "?", "^", "$", "_", "args", "input", "LASTEXITCODE", "MyInvocation", "PSBoundParameters", "PSCmdlet",
        "StackTrace", "PSItem", "foreach", "switch", "this", "Matches", "PWD", "Error", "ExecutionContext",
        "Host", "PID", "PSScriptRoot", "PSCommandPath", "Event", "EventArgs", "EventSubscriber", "Sender",
    };

    private readonly Snapshot _pristine;
    private readonly string[] _modules;

    private RunspaceBaseline(Snapshot pristine)
    {
        _pristine = pristine;
        _modules = pristine.Modules.Keys.ToArray();
    }

    /// <summary>The baseline of <paramref name="fresh"/>, a runspace just opened and not yet used.</summary>
    public static RunspaceBaseline Take(Runspace fresh) => new(Snapshot.Of(fresh));

    /// <summary>
    /// Resets <paramref name="used"/> (idle, after its task) and verifies it against the baseline.
    /// Returns null when it is back to the baseline (reusable), else what still differs (dispose it).
    /// </summary>
    public string? TryReset(Runspace used)
    {
        try
        {
            if (used.RunspaceAvailability != RunspaceAvailability.Available) { return "the runspace is busy"; }
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = used;
                // In the global scope, where a task's Set-StrictMode took effect ($Modules goes with the reset).
                ps.AddScript(CleanupScript, useLocalScope: false).AddParameter("Modules", _modules);
                ps.Invoke();
            }
            used.ResetRunspaceState();
            var proxy = used.SessionStateProxy;
            if (proxy.LanguageMode != _pristine.LanguageMode) { proxy.LanguageMode = _pristine.LanguageMode; }
            var now = Snapshot.Of(used);
            RemoveAdded(used, "function", now.Functions, _pristine.Functions);
            RemoveAdded(used, "alias", now.Aliases, _pristine.Aliases);
            foreach (var drive in now.Drives.Keys.Except(_pristine.Drives.Keys))
            {
                proxy.Drive.Remove(drive, true, "global");
            }
            if (proxy.Path.CurrentLocation.Path != _pristine.Location) { proxy.Path.SetLocation(_pristine.Location); }
            return _pristine.Difference(Snapshot.Of(used));
        }
        catch (Exception ex)
        {
            return $"the reset failed: {ex.Message}";
        }
    }

    private static void RemoveAdded(Runspace rs, string drive, Dictionary<string, string> now, Dictionary<string, string> pristine)
    {
        foreach (var name in now.Keys.Except(pristine.Keys))
        {
            rs.SessionStateProxy.InvokeProvider.Item.Remove(new[] { $"{drive}:\\{name}" }, false, true, true);
        }
    }

    /// <summary>What the reset compares, as sorted maps of name to a description.</summary>
    private sealed class Snapshot
    {
        public Dictionary<string, string> Variables = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, string> Functions = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, string> Drives = new(StringComparer.OrdinalIgnoreCase);
        public Dictionary<string, string> Modules = new(StringComparer.OrdinalIgnoreCase);
        public string Location = "";
        public PSLanguageMode LanguageMode;
        public int Subscribers;
        public int Breakpoints;
        public int Jobs;

        public static Snapshot Of(Runspace rs)
        {
            var s = new Snapshot();
            var proxy = rs.SessionStateProxy;
            foreach (var item in proxy.InvokeProvider.ChildItem.Get("variable:", false))
            {
                if (item.BaseObject is PSVariable v && !Volatile.Contains(v.Name)) { s.Variables[v.Name] = Describe(v.Value); }
            }
            foreach (var item in proxy.InvokeProvider.ChildItem.Get("function:", false))
            {
                if (item.BaseObject is FunctionInfo f) { s.Functions[f.Name] = f.Definition; }
            }
            foreach (var item in proxy.InvokeProvider.ChildItem.Get("alias:", false))
            {
                if (item.BaseObject is AliasInfo a) { s.Aliases[a.Name] = a.Definition; }
            }
            foreach (var d in proxy.Drive.GetAll()) { s.Drives[d.Name] = d.Root; }
            s.Location = proxy.Path.CurrentLocation.Path;
            s.LanguageMode = proxy.LanguageMode;
            s.Subscribers = rs.Events.Subscribers.Count;
            s.Breakpoints = rs.Debugger.GetBreakpoints().Count;
            using (var ps = PowerShell.Create())
            {
                ps.Runspace = rs;
                ps.AddScript("@(Get-Module) | ForEach-Object { \"$($_.Name)@$($_.Version)\" }; '|'; @(Get-Job).Count",
                    useLocalScope: true);
                var seenBar = false;
                foreach (var o in ps.Invoke())
                {
                    var text = o?.BaseObject?.ToString() ?? "";
                    if (text == "|") { seenBar = true; }
                    else if (seenBar) { s.Jobs = int.Parse(text); }
                    else { s.Modules[text.Split('@')[0]] = text; }
                }
            }
            return s;
        }

        private static string Describe(object? value)
        {
            var v = value is PSObject pso ? pso.BaseObject : value;
            return v switch
            {
                null => "null",
                string text => "s:" + text,
                Enum e => "e:" + e,
                IConvertible c when v.GetType().IsPrimitive || v is decimal => "v:" + c.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ICollection col => $"c:{v.GetType().FullName}#{col.Count}",
                _ => "t:" + v.GetType().FullName,
            };
        }

        /// <summary>Null when <paramref name="other"/> equals this snapshot, else the first differences.</summary>
        public string? Difference(Snapshot other)
        {
            var diff = new StringBuilder();
            Compare("variable", Variables, other.Variables, diff);
            Compare("function", Functions, other.Functions, diff);
            Compare("alias", Aliases, other.Aliases, diff);
            Compare("drive", Drives, other.Drives, diff);
            Compare("module", Modules, other.Modules, diff);
            if (Location != other.Location) { diff.Append($"location {other.Location}; "); }
            if (LanguageMode != other.LanguageMode) { diff.Append($"language mode {other.LanguageMode}; "); }
            if (Subscribers != other.Subscribers) { diff.Append($"{other.Subscribers} event subscribers; "); }
            if (Breakpoints != other.Breakpoints) { diff.Append($"{other.Breakpoints} breakpoints; "); }
            if (Jobs != other.Jobs) { diff.Append($"{other.Jobs} jobs; "); }
            return diff.Length == 0 ? null : diff.ToString().TrimEnd(' ', ';');
        }

        private static void Compare(string kind, Dictionary<string, string> a, Dictionary<string, string> b, StringBuilder diff)
        {
            foreach (var (name, value) in b)
            {
                if (!a.TryGetValue(name, out var before)) { diff.Append($"{kind} {name} added; "); }
                else if (before != value) { diff.Append($"{kind} {name} changed; "); }
            }
            foreach (var name in a.Keys.Where(n => !b.ContainsKey(n))) { diff.Append($"{kind} {name} removed; "); }
        }
    }
}
