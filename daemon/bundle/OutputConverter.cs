using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text;
using System.Text.Json;

namespace KrTasks.Runtime;

/// <summary>
/// Turns task output (PowerShell objects, C#/VB values) into JSON text that never fails:
/// nesting deeper than the depth limit, reference cycles and values that cannot be read become
/// strings (their ToString()), and output beyond the byte budget is cut at an item boundary.
/// Properties are read the way ConvertTo-Json reads them (PowerShell's adapted view).
/// </summary>
public static class OutputConverter
{
    /// <summary>Result of a conversion.</summary>
    /// <param name="Json">JSON text.</param>
    /// <param name="Items">Items written (for a sequence).</param>
    /// <param name="TotalItems">Items offered.</param>
    public sealed record Converted(string Json, int Items, int TotalItems)
    {
        /// <summary>True when items were left out to stay within the byte budget.</summary>
        public bool Truncated => Items < TotalItems;
    }

    /// <summary>Converts a sequence of output items to a JSON array.</summary>
    public static Converted ToJsonArray(IEnumerable items, int maxDepth, long maxBytes)
    {
        var list = items.Cast<object?>().ToList();
        using var ms = new MemoryStream();
        var written = 0;
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartArray();
            foreach (var item in list)
            {
                if (ms.Length + w.BytesPending > maxBytes) { break; }
                WriteValue(w, item, 0, maxDepth, new HashSet<object>(ReferenceEqualityComparer.Instance));
                written++;
            }
            w.WriteEndArray();
        }
        return new Converted(Encoding.UTF8.GetString(ms.ToArray()), written, list.Count);
    }

    /// <summary>
    /// Converts the result of a completed C#/VB task. The value stays on the .NET side: handing a boxed
    /// value to Python and back would turn it into a Python object wrapper.
    /// </summary>
    public static Converted TaskResultToJson(Task<object?> task, int maxDepth, long maxBytes) =>
        ToJsonValue(task.Result, maxDepth, maxBytes);

    /// <summary>The result of a completed C#/VB task as CliXml (see <see cref="ToCliXml"/>).</summary>
    public static string TaskResultToCliXml(Task<object?> task, int depth, long maxBytes) =>
        ToCliXml(task.Result, depth, maxBytes);

    /// <summary>
    /// Serialises <paramref name="value"/> as PowerShell does for jobs and remoting (<see cref="PSSerializer"/>,
    /// <paramref name="depth"/> levels; deeper objects become strings there too), so a PowerShell client gets
    /// typed objects back (rich objects as Deserialized.*). Beyond <paramref name="maxBytes"/> characters the
    /// value is replaced by a note string saying so.
    /// </summary>
    public static string ToCliXml(object? value, int depth, long maxBytes)
    {
        var xml = PSSerializer.Serialize(value, Math.Max(1, depth));
        return xml.Length <= maxBytes
            ? xml
            : PSSerializer.Serialize($"[output of {xml.Length} characters of CliXml exceeds the limit of {maxBytes}]");
    }

    /// <summary>Converts one value (the result of C#/VB code). Over-budget output becomes a note string.</summary>
    public static Converted ToJsonValue(object? value, int maxDepth, long maxBytes)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            WriteValue(w, value, 0, maxDepth, new HashSet<object>(ReferenceEqualityComparer.Instance));
        }
        if (ms.Length > maxBytes)
        {
            return new Converted(JsonSerializer.Serialize(
                $"[output of {ms.Length} bytes exceeds the limit of {maxBytes} bytes]"), 0, 1);
        }
        return new Converted(Encoding.UTF8.GetString(ms.ToArray()), 1, 1);
    }

    private static void WriteValue(Utf8JsonWriter w, object? value, int depth, int maxDepth, HashSet<object> path)
    {
        if (value is PSObject pso)
        {
            if (pso.BaseObject is not PSCustomObject) { value = pso.BaseObject; }
        }
        switch (value)
        {
            case null: w.WriteNullValue(); return;
            case DBNull: w.WriteNullValue(); return;
            case string s: w.WriteStringValue(s); return;
            case char c: w.WriteStringValue(c.ToString()); return;
            case bool b: w.WriteBooleanValue(b); return;
            case byte or sbyte or short or ushort or int or uint or long or ulong:
                w.WriteRawValue(Convert.ToString(value, CultureInfo.InvariantCulture)!); return;
            case float f when float.IsFinite(f): w.WriteNumberValue(f); return;
            case double d when double.IsFinite(d): w.WriteNumberValue(d); return;
            case float or double: w.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); return;
            case decimal m: w.WriteNumberValue(m); return;
            case DateTime dt: w.WriteStringValue(dt.ToString("o", CultureInfo.InvariantCulture)); return;
            case DateTimeOffset dto: w.WriteStringValue(dto.ToString("o", CultureInfo.InvariantCulture)); return;
            case TimeSpan ts: w.WriteStringValue(ts.ToString("c", CultureInfo.InvariantCulture)); return;
            case Guid or Uri or Version or Enum or Type or ScriptBlock:
                w.WriteStringValue(value.ToString()); return;
        }
        if (depth >= maxDepth || !path.Add(value!))
        {
            w.WriteStringValue(SafeToString(value));
            return;
        }
        try
        {
            switch (value)
            {
                case IDictionary dict:
                    w.WriteStartObject();
                    foreach (DictionaryEntry e in dict)
                    {
                        w.WritePropertyName(SafeToString(e.Key));
                        WriteValue(w, e.Value, depth + 1, maxDepth, path);
                    }
                    w.WriteEndObject();
                    return;
                case IEnumerable seq when value is not PSObject:
                    w.WriteStartArray();
                    foreach (var item in seq) { WriteValue(w, item, depth + 1, maxDepth, path); }
                    w.WriteEndArray();
                    return;
            }
            var obj = value as PSObject ?? PSObject.AsPSObject(value!);
            w.WriteStartObject();
            foreach (var prop in obj.Properties)
            {
                if (!prop.IsGettable) { continue; }
                object? v;
                try { v = prop.Value; }
                catch (Exception ex) { v = $"[{ex.GetType().Name}: {ex.Message}]"; }
                w.WritePropertyName(prop.Name);
                WriteValue(w, v, depth + 1, maxDepth, path);
            }
            w.WriteEndObject();
        }
        finally
        {
            path.Remove(value!);
        }
    }

    private static string SafeToString(object? value)
    {
        try { return value?.ToString() ?? ""; }
        catch (Exception ex) { return $"[{ex.GetType().Name}: {ex.Message}]"; }
    }
}
