using System.Reflection;
using System.Runtime.Loader;

namespace KrTasks.Runtime;

/// <summary>
/// A compiled C# or VB script as bytes (the assembly and its portable PDB), not loaded anywhere. The
/// daemon compiles; the image is loaded where the task runs: in the daemon (thread isolation) or in a
/// worker process, which needs the referenced assemblies but not the compiler.
/// </summary>
public sealed class ScriptImage
{
    /// <summary>Wraps an emitted image.</summary>
    /// <param name="pe">The assembly.</param>
    /// <param name="pdb">Its portable PDB (line numbers for errors).</param>
    /// <param name="isScript">True for C# script semantics (a submission factory), false for the VB module.</param>
    /// <param name="file">The file name user code frames carry.</param>
    public ScriptImage(byte[] pe, byte[] pdb, bool isScript, string file)
    {
        Pe = pe;
        Pdb = pdb;
        IsScript = isScript;
        File = file;
    }

    /// <summary>The assembly bytes.</summary>
    public byte[] Pe { get; }

    /// <summary>The portable PDB bytes.</summary>
    public byte[] Pdb { get; }

    /// <summary>True for C# script semantics, false for the VB wrapper module.</summary>
    public bool IsScript { get; }

    /// <summary>The file name user code frames carry (for error positions).</summary>
    public string File { get; }

    /// <summary>Loads the image into a new collectible load context of this process.</summary>
    public CompiledScript Load()
    {
        var alc = new AssemblyLoadContext("krtask_" + Guid.NewGuid().ToString("N"), isCollectible: true);
        using var pe = new MemoryStream(Pe, writable: false);
        using var pdb = new MemoryStream(Pdb, writable: false);
        var asm = alc.LoadFromStream(pe, pdb);
        var entry = IsScript
            ? asm.GetTypes().SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
                .Single(m => m.Name == "<Factory>")
            : asm.GetType("KrTaskModule")!.GetMethod("Run")!;
        return new CompiledScript(alc, entry, IsScript, File);
    }
}

/// <summary>A compiled C# or VB script, loaded in its own collectible load context.</summary>
public sealed class CompiledScript
{
    private AssemblyLoadContext? _alc;
    private MethodInfo? _entry;
    private readonly bool _isScript;

    internal CompiledScript(AssemblyLoadContext alc, MethodInfo entry, bool isScript, string file)
    {
        _alc = alc;
        _entry = entry;
        _isScript = isScript;
        File = file;
    }

    /// <summary>The file name user code frames carry (for error positions).</summary>
    public string File { get; }

    /// <summary>True once <see cref="Unload"/> ran.</summary>
    public bool IsUnloaded => _alc is null;

    /// <summary>
    /// Starts the code on the thread pool (never on the caller's thread) with console output routed
    /// to <paramref name="sink"/>. The task's result is the script's value.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The script was unloaded.</exception>
    public Task<object?> Start(TaskGlobals globals, StreamSink sink)
    {
        var entry = _entry ?? throw new ObjectDisposedException(nameof(CompiledScript));
        var isScript = _isScript;
        return Task.Run(async () =>
        {
            ConsoleRouter.Enter(sink);
            var call = isScript
                ? entry.Invoke(null, new object?[] { new object?[] { globals, null } })
                : entry.Invoke(null, new object?[] { globals });
            return await ((Task<object?>)call!).ConfigureAwait(false);
        });
    }

    /// <summary>Unloads the load context; memory is reclaimed once no running code uses it.</summary>
    public void Unload()
    {
        var alc = _alc;
        _alc = null;
        _entry = null;
        alc?.Unload();
    }
}
