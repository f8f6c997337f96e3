using System.Collections;
using System.Management.Automation;
using System.Text.Json;

namespace KrTasks.Runtime;

/// <summary>
/// The REST API's CliXml forms (media type <c>application/clixml+xml</c>), for PowerShell clients that want
/// PowerShell's own serialisation, as jobs and remoting use it: a creation request as CliXml of a hashtable
/// with the JSON body's fields, and a result as CliXml of a hashtable <c>{Id, CreatedAt, State, Output, Error}</c>.
/// </summary>
public static class CliXmlCodec
{
    /// <summary>
    /// A creation request in CliXml as JSON text the daemon validates like a JSON body: every field but
    /// <c>Arguments</c> converted to JSON, <c>Arguments</c> as a JSON view (for display), and the arguments again
    /// as CliXml under <c>ArgumentsCliXml</c> (what task code gets, with its types).
    /// </summary>
    /// <exception cref="ArgumentException">Not CliXml, or not a hashtable; the message says which.</exception>
    public static string RequestToJson(string clixml, int depth, long maxBytes)
    {
        object? value;
        try { value = PSSerializer.Deserialize(clixml); }
        catch (Exception ex) when (ex is System.Xml.XmlException or PSInvalidOperationException or InvalidOperationException
                                       or ArgumentException)
        {
            throw new ArgumentException($"the body is not CliXml ({ex.Message})", ex);
        }
        if ((value is PSObject pso ? pso.BaseObject : value) is not IDictionary fields)
        {
            throw new ArgumentException("the body must be CliXml of a hashtable of the request's fields");
        }
        var json = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in fields)
        {
            var name = e.Key.ToString() ?? "";
            json[name] = e.Value;
            if (string.Equals(name, "Arguments", StringComparison.OrdinalIgnoreCase) && e.Value is not null)
            {
                json["ArgumentsCliXml"] = PSSerializer.Serialize(e.Value, Math.Max(1, depth));
            }
        }
        return OutputConverter.ToJsonValue(json, depth + 1, maxBytes).Json;
    }

    /// <summary>
    /// A task's result as CliXml of <c>{Id, CreatedAt, State, Output, Error}</c>: the output from its own CliXml
    /// when the task kept one (typed), else from its JSON output (as ConvertFrom-Json would give it).
    /// </summary>
    public static string Result(string id, string createdAt, string state, string? outputCliXml, string outputJson,
        string? errorJson, int depth)
    {
        using var output = JsonDocument.Parse(outputJson);
        var result = new Hashtable
        {
            ["Id"] = id,
            ["CreatedAt"] = createdAt,
            ["State"] = state,
            ["Output"] = outputCliXml is not null ? PSSerializer.Deserialize(outputCliXml) : TaskArguments.ToPowerShell(output.RootElement),
        };
        if (errorJson is null) { result["Error"] = null; }
        else
        {
            using var error = JsonDocument.Parse(errorJson);
            result["Error"] = TaskArguments.ToPowerShell(error.RootElement);
        }
        return PSSerializer.Serialize(result, Math.Max(1, depth) + 1);
    }
}
