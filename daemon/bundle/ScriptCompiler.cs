using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.VisualBasic;

namespace KrTasks.Runtime;

/// <summary>A compiler message, positioned in the user's own code (1-based; null when outside it).</summary>
public sealed record CompileDiagnostic(string Id, string Severity, string Message, int? Line, int? Column);

/// <summary>Outcome of a compilation: a runnable script, or the errors that refused it.</summary>
public sealed class CompileResult
{
    internal CompileResult(CompiledScript? script, CompileDiagnostic[] diagnostics)
    {
        Script = script;
        Diagnostics = diagnostics;
    }

    /// <summary>The compiled script, or null when compilation failed.</summary>
    public CompiledScript? Script { get; }

    /// <summary>Errors and warnings, in source order.</summary>
    public CompileDiagnostic[] Diagnostics { get; }

    /// <summary>True when a script was produced.</summary>
    public bool Success => Script is not null;
}

/// <summary>
/// Compiles C# (Roslyn script semantics: last expression is the result, top-level await) and
/// VB.NET (Roslyn has no VB scripting API, so the snippet is wrapped in an async module function)
/// into assemblies loaded in collectible load contexts, so memory is returned when a script is unloaded.
/// Each argument becomes a typed local; TaskProgress, TaskId, CancellationToken and Arguments are in scope, and
/// Kestrun's Locals and Globals (C# as globals, VB through g, the globals parameter, as in Kestrun).
/// </summary>
public static class ScriptCompiler
{
    /// <summary>
    /// Namespaces imported by default: Kestrun's platform set (less what needs ASP.NET Core or Serilog),
    /// for C# (<c>using</c>) and VB (<c>Imports</c>) alike.
    /// </summary>
    public static readonly string[] DefaultImports =
    {
        "Microsoft.PowerShell", "Microsoft.VisualBasic", "System", "System.Collections", "System.Collections.Generic",
        "System.Collections.Immutable", "System.IO", "System.Linq", "System.Management.Automation",
        "System.Management.Automation.Runspaces", "System.Net", "System.Net.Http.Headers", "System.Reflection",
        "System.Runtime.InteropServices", "System.Security.Claims", "System.Security.Cryptography.X509Certificates",
        "System.Text", "System.Text.Encodings.Web", "System.Text.RegularExpressions", "System.Threading",
        "System.Threading.Tasks",
    };

    /// <summary>File name that user code is compiled under; diagnostics and stack frames carry it.</summary>
    public const string CSharpFile = "task.csx";

    /// <summary>File name that VB user code is mapped to (#ExternalSource).</summary>
    public const string VisualBasicFile = "task.vb";

    private static readonly Lazy<ImmutableArray<MetadataReference>> BaseReferences = new(LoadBaseReferences);

    private static ImmutableArray<MetadataReference> LoadBaseReferences()
    {
        // The whole shared framework (the directory of System.Private.CoreLib), the PowerShell SDK that this
        // process runs (System.Management.Automation and the Microsoft.PowerShell.* assemblies beside it), and ours.
        var frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var tpa = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var files = tpa.Where(f => string.Equals(Path.GetDirectoryName(f), frameworkDir, StringComparison.Ordinal))
            .Where(f => !Path.GetFileName(f).StartsWith("System.Private.", StringComparison.Ordinal)
                        || Path.GetFileName(f) == "System.Private.CoreLib.dll");
        if (!files.Any())
        {
            files = Directory.EnumerateFiles(frameworkDir, "*.dll");
        }
        var sma = typeof(System.Management.Automation.PSObject).Assembly.Location;
        var powerShell = Directory.EnumerateFiles(Path.GetDirectoryName(sma)!, "Microsoft.PowerShell.*.dll")
            .Where(IsManagedAssembly);
        var refs = files.Concat(new[] { sma }).Concat(powerShell.OrderBy(f => f, StringComparer.Ordinal))
            .Select(f => (MetadataReference)MetadataReference.CreateFromFile(f)).ToList();
        refs.Add(MetadataReference.CreateFromFile(typeof(TaskGlobals).Assembly.Location));
        return refs.ToImmutableArray();
    }

    // Every compilation derives from one template per language (same references, options, assembly name), so
    // they share its reference manager: the ~200 references are bound once per process, not once per script
    // (halves the time of a warm compile). Only extra references make a compilation bind its own.
    private static readonly Lazy<CSharpCompilation> CSharpTemplate = new(() =>
        CSharpCompilation.CreateScriptCompilation("krtask_cs", null, BaseReferences.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, usings: DefaultImports,
                optimizationLevel: OptimizationLevel.Debug, nullableContextOptions: NullableContextOptions.Disable,
                allowUnsafe: true),
            previousScriptCompilation: null, returnType: typeof(object), globalsType: typeof(TaskGlobals)));

    private static readonly Lazy<VisualBasicCompilation> VisualBasicTemplate = new(() =>
        VisualBasicCompilation.Create("krtask_vb", null, BaseReferences.Value,
            new VisualBasicCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Debug)
                // BC42356: async function without Await; BC42105: no Return on every path (result is Nothing).
                .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
                {
                    ["BC42356"] = ReportDiagnostic.Suppress,
                    ["BC42105"] = ReportDiagnostic.Suppress,
                })));

    private static bool IsManagedAssembly(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (Exception ex) when (ex is BadImageFormatException or IOException)
        {
            return false;
        }
    }

    /// <summary>Compiles once so later compiles skip the cold JIT of the compiler itself.</summary>
    public static void WarmUp()
    {
        var args = new Dictionary<string, object?>();
        CompileCSharp("1 + 1", args, Array.Empty<string>(), Array.Empty<string>()).Script?.Unload();
        CompileVisualBasic("Return 1", args, Array.Empty<string>(), Array.Empty<string>()).Script?.Unload();
    }

    /// <summary>Compiles C# script code.</summary>
    /// <param name="code">The user's code.</param>
    /// <param name="arguments">Argument values; each becomes a local of the value's runtime type.</param>
    /// <param name="extraImports">Namespaces to import besides <see cref="DefaultImports"/>.</param>
    /// <param name="extraRefs">Assembly names (loaded by name) or paths to .dll files.</param>
    public static CompileResult CompileCSharp(string code, IReadOnlyDictionary<string, object?> arguments,
        string[] extraImports, string[] extraRefs)
    {
        var prelude = new StringBuilder();
        foreach (var (name, value) in arguments)
        {
            // Kestrun's Locals and Globals keep their meaning; such an argument is reached as Locals["Locals"].
            if (name is "Locals" or "Globals") { continue; }
            prelude.Append($"var @{name} = ({TaskArguments.CSharpType(value)})Arguments[\"{name}\"];\n");
        }
        var parseOptions = new CSharpParseOptions(Microsoft.CodeAnalysis.CSharp.LanguageVersion.Latest, kind: SourceCodeKind.Script);
        var tree = CSharpSyntaxTree.ParseText(prelude + "#line 1\n" + code, parseOptions, CSharpFile, Encoding.UTF8);
        if (!tree.GetRoot().ChildNodes().Any())
        {
            // Roslyn emits nothing for a script without a single statement; empty code is a task with no result.
            tree = CSharpSyntaxTree.ParseText(prelude + ";\n#line 1\n" + code, parseOptions, CSharpFile, Encoding.UTF8);
        }
        var (refs, refErrors) = ResolveExtraReferences(extraRefs);
        var compilation = CSharpTemplate.Value.AddSyntaxTrees(tree);
        if (extraImports.Length > 0)
        {
            compilation = compilation.WithOptions(compilation.Options.WithUsings(DefaultImports.Concat(extraImports).Distinct()));
        }
        if (refs.Count > 0) { compilation = compilation.AddReferences(refs); }
        return Emit(compilation, refErrors, CSharpFile, userFirstLine: 0, isScript: true);
    }

    /// <summary>Compiles a VB.NET snippet (a method body ending with <c>Return value</c>).</summary>
    /// <param name="code">The user's code.</param>
    /// <param name="arguments">Argument values; each becomes a local of the value's runtime type.</param>
    /// <param name="extraImports">Namespaces to import besides <see cref="DefaultImports"/>.</param>
    /// <param name="extraRefs">Assembly names (loaded by name) or paths to .dll files.</param>
    public static CompileResult CompileVisualBasic(string code, IReadOnlyDictionary<string, object?> arguments,
        string[] extraImports, string[] extraRefs)
    {
        var sb = new StringBuilder();
        sb.Append("Option Strict Off\nOption Explicit On\nOption Infer On\n");
        foreach (var ns in DefaultImports.Concat(extraImports).Distinct()) { sb.Append($"Imports {ns}\n"); }
        sb.Append("Public Module KrTaskModule\n");
        // The globals parameter is named g, as in Kestrun (g.Locals("name"), g.Globals); KrTaskGlobals stays as an alias.
        sb.Append("Public Async Function Run(g As Global.KrTasks.Runtime.TaskGlobals) As Global.System.Threading.Tasks.Task(Of Object)\n");
        sb.Append("Dim KrTaskGlobals As Global.KrTasks.Runtime.TaskGlobals = g\n");
        sb.Append("Dim TaskProgress As Global.KrTasks.Runtime.TaskProgress = g.TaskProgress\n");
        sb.Append("Dim TaskId As String = g.TaskId\n");
        sb.Append("Dim CancellationToken As Global.System.Threading.CancellationToken = g.CancellationToken\n");
        sb.Append("Dim Arguments As Global.System.Collections.Generic.IReadOnlyDictionary(Of String, Object) = g.Arguments\n");
        foreach (var (name, value) in arguments)
        {
            // VB names are case-insensitive: an argument called g (or G) is reached as g.Locals("g").
            if (string.Equals(name, "g", StringComparison.OrdinalIgnoreCase)) { continue; }
            var type = TaskArguments.VisualBasicType(value);
            sb.Append($"Dim [{name}] As {type} = CType(g.Arguments(\"{name}\"), {type})\n");
        }
        sb.Append($"#ExternalSource(\"{VisualBasicFile}\", 1)\n");
        var firstLine = sb.ToString().Count(c => c == '\n');
        sb.Append(code).Append("\n#End ExternalSource\nEnd Function\nEnd Module\n");
        var tree = VisualBasicSyntaxTree.ParseText(sb.ToString(),
            new VisualBasicParseOptions(Microsoft.CodeAnalysis.VisualBasic.LanguageVersion.Latest), "wrapper.vb", Encoding.UTF8);
        var (refs, refErrors) = ResolveExtraReferences(extraRefs);
        var compilation = VisualBasicTemplate.Value.AddSyntaxTrees(tree);
        if (refs.Count > 0) { compilation = compilation.AddReferences(refs); }
        return Emit(compilation, refErrors, VisualBasicFile, firstLine, isScript: false);
    }

    private static (List<MetadataReference>, List<CompileDiagnostic>) ResolveExtraReferences(string[] extraRefs)
    {
        var refs = new List<MetadataReference>();
        var errors = new List<CompileDiagnostic>();
        foreach (var r in extraRefs.Where(r => !string.IsNullOrWhiteSpace(r)))
        {
            try
            {
                var path = r.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || r.Contains('/') || r.Contains('\\')
                    ? Path.GetFullPath(r)
                    : Assembly.Load(new AssemblyName(r)).Location;
                refs.Add(MetadataReference.CreateFromFile(path));
            }
            catch (Exception ex) when (ex is IOException or BadImageFormatException or ArgumentException)
            {
                errors.Add(new CompileDiagnostic("KRT0001", "Error", $"Reference '{r}' could not be loaded: {ex.Message}", null, null));
            }
        }
        return (refs, errors);
    }

    private static CompileResult Emit(Compilation compilation, List<CompileDiagnostic> refErrors, string userFile,
        int userFirstLine, bool isScript)
    {
        using var pe = new MemoryStream();
        using var pdb = new MemoryStream();
        var emit = compilation.Emit(pe, pdb, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.PortablePdb));
        var diagnostics = refErrors.Concat(emit.Diagnostics
                .Where(d => d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning)
                .OrderBy(d => d.Location.SourceSpan.Start)
                .Select(d => ToDiagnostic(d, userFile)))
            .ToArray();
        if (!emit.Success || refErrors.Count > 0) { return new CompileResult(null, diagnostics); }
        pe.Position = 0;
        pdb.Position = 0;
        var alc = new AssemblyLoadContext(compilation.AssemblyName, isCollectible: true);
        var asm = alc.LoadFromStream(pe, pdb);
        MethodInfo entry;
        if (isScript)
        {
            entry = asm.GetTypes().SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
                .Single(m => m.Name == "<Factory>");
        }
        else
        {
            entry = asm.GetType("KrTaskModule")!.GetMethod("Run")!;
        }
        return new CompileResult(new CompiledScript(alc, entry, isScript, userFile), diagnostics);
    }

    private static CompileDiagnostic ToDiagnostic(Diagnostic d, string userFile)
    {
        int? line = null, column = null;
        if (d.Location.IsInSource)
        {
            var span = d.Location.GetMappedLineSpan();
            if (span.Path == userFile && span.HasMappedPath || span.Path == userFile)
            {
                line = span.StartLinePosition.Line + 1;
                column = span.StartLinePosition.Character + 1;
            }
        }
        return new CompileDiagnostic(d.Id, d.Severity.ToString(), d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), line, column);
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
