using System.Collections;
using System.Management.Automation;
using System.Text.Json;

namespace KrTasks.Runtime;

/// <summary>
/// Task arguments arrive as a JSON object or as CliXml. From JSON they become .NET values with predictable
/// types: integers that fit Int32 → Int32, other integers → Int64, other numbers → Double, strings,
/// booleans, null, arrays → object?[], objects → Dictionary&lt;string, object?&gt;. From CliXml (PowerShell's
/// serializer, as jobs and remoting use it) they keep their types: a DateTime stays a DateTime, a hashtable a
/// hashtable, a rich object arrives as a Deserialized.* property bag.
/// </summary>
public static class TaskArguments
{
    /// <summary>Parses a JSON object into a name → value dictionary (names compared case-insensitively).</summary>
    /// <exception cref="ArgumentException">The text is not a JSON object.</exception>
    public static Dictionary<string, object?> FromJson(string json)
    {
        using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(json) ? "{}" : json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("Arguments must be a JSON object.");
        }
        var result = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in doc.RootElement.EnumerateObject()) { result[p.Name] = Convert(p.Value); }
        return result;
    }

    /// <summary>Deserialises CliXml of a hashtable (or an object's properties) into a name → value dictionary.</summary>
    /// <exception cref="ArgumentException">Not CliXml, or not a hashtable.</exception>
    public static Dictionary<string, object?> FromCliXml(string clixml)
    {
        object? value;
        try { value = PSSerializer.Deserialize(clixml); }
        catch (Exception ex) when (ex is System.Xml.XmlException or PSInvalidOperationException or InvalidOperationException)
        {
            throw new ArgumentException($"Not CliXml: {ex.Message}", ex);
        }
        var result = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        switch (Unwrap(value))
        {
            case IDictionary dict:
                foreach (DictionaryEntry e in dict) { result[e.Key.ToString() ?? ""] = Unwrap(e.Value); }
                return result;
            case null:
                return result;
            default:
                throw new ArgumentException("The arguments must be a hashtable (name → value).");
        }
    }

    /// <summary>A deserialised value as task code wants it: primitives and known types as themselves, rich
    /// objects (Deserialized.*) and custom objects as the PSObject.</summary>
    private static object? Unwrap(object? value) =>
        value is PSObject pso && pso.BaseObject is not PSCustomObject ? pso.BaseObject : value;

    /// <summary>A JSON element as PowerShell sees ConvertFrom-Json's result (objects as PSCustomObject).</summary>
    public static object? ToPowerShell(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => ToPSObject(e),
        JsonValueKind.Array => e.EnumerateArray().Select(ToPowerShell).ToArray(),
        _ => Convert(e),
    };

    private static PSObject ToPSObject(JsonElement e)
    {
        var obj = new PSObject();
        foreach (var p in e.EnumerateObject()) { obj.Properties.Add(new PSNoteProperty(p.Name, ToPowerShell(p.Value))); }
        return obj;
    }

    private static object? Convert(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.Number when e.TryGetInt32(out var i) => i,
        JsonValueKind.Number when e.TryGetInt64(out var l) => l,
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.Array => e.EnumerateArray().Select(Convert).ToArray(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => Convert(p.Value)),
        _ => e.ToString(),
    };

    /// <summary>The C# type a value's variable is declared with.</summary>
    public static string CSharpType(object? value) => value switch
    {
        null => "object?",
        object?[] => "object?[]",
        Dictionary<string, object?> => "global::System.Collections.Generic.Dictionary<string, object?>",
        _ => "global::" + value.GetType().FullName,
    };

    /// <summary>The VB type a value's variable is declared with.</summary>
    public static string VisualBasicType(object? value) => value switch
    {
        null => "Object",
        object?[] => "Object()",
        Dictionary<string, object?> => "Global.System.Collections.Generic.Dictionary(Of String, Object)",
        _ => "Global." + value.GetType().FullName,
    };

    /// <summary>"name:Type;…" in name order: the part of a compile-cache key that arguments decide.</summary>
    public static string Signature(IReadOnlyDictionary<string, object?> args) =>
        string.Join(";", args.OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase)
            .Select(kv => kv.Key + ":" + CSharpType(kv.Value)));
}
