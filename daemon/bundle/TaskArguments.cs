using System.Text.Json;

namespace KrTasks.Runtime;

/// <summary>
/// Task arguments arrive as a JSON object. They become .NET values with predictable types:
/// integers that fit Int32 → Int32, other integers → Int64, other numbers → Double, strings,
/// booleans, null, arrays → object?[], objects → Dictionary&lt;string, object?&gt;.
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
