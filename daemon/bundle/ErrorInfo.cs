using System.Diagnostics;
using System.Management.Automation;

namespace KrTasks.Runtime;

/// <summary>
/// The error of a failed task, flattened for the daemon: Type, Message, Category, StackTrace
/// (ScriptStackTrace for PowerShell), Line and Column in the user's code (null when unknown).
/// </summary>
public sealed class ErrorInfo
{
    /// <summary>Exception type name (full name), or a KrTasks error type such as TimeoutException.</summary>
    public string Type { get; init; } = "";

    /// <summary>Human-readable message.</summary>
    public string Message { get; init; } = "";

    /// <summary>PowerShell error category (or null for .NET code).</summary>
    public string? Category { get; init; }

    /// <summary>Script (PowerShell) or .NET stack trace, trimmed to the user's frames where possible.</summary>
    public string? StackTrace { get; init; }

    /// <summary>1-based line in the user's code.</summary>
    public int? Line { get; init; }

    /// <summary>1-based column in the user's code.</summary>
    public int? Column { get; init; }

    /// <summary>Builds the info for an exception thrown by a PowerShell pipeline.</summary>
    public static ErrorInfo FromPowerShell(Exception ex)
    {
        ErrorRecord? record = (ex as IContainsErrorRecord)?.ErrorRecord;
        var inner = record?.Exception ?? ex;
        var info = record?.InvocationInfo;
        return new ErrorInfo
        {
            Type = inner.GetType().FullName ?? inner.GetType().Name,
            Message = inner.Message,
            Category = record?.CategoryInfo.Category.ToString(),
            StackTrace = record?.ScriptStackTrace,
            Line = info is { ScriptLineNumber: > 0 } ? info.ScriptLineNumber : null,
            Column = info is { OffsetInLine: > 0 } ? info.OffsetInLine : null,
        };
    }

    /// <summary>Builds the info for an exception thrown by compiled C#/VB code whose file is <paramref name="file"/>.</summary>
    public static ErrorInfo FromDotNet(Exception ex, string file)
    {
        while (ex is AggregateException { InnerExceptions.Count: 1 } agg) { ex = agg.InnerExceptions[0]; }
        while (ex is System.Reflection.TargetInvocationException { InnerException: { } inner }) { ex = inner; }
        int? line = null, column = null;
        foreach (var frame in new StackTrace(ex, true).GetFrames())
        {
            if (frame.GetFileName() == file && frame.GetFileLineNumber() > 0)
            {
                line = frame.GetFileLineNumber();
                column = frame.GetFileColumnNumber() > 0 ? frame.GetFileColumnNumber() : null;
                break;
            }
        }
        return new ErrorInfo
        {
            Type = ex.GetType().FullName ?? ex.GetType().Name,
            Message = ex.Message,
            StackTrace = ex.StackTrace,
            Line = line,
            Column = column,
        };
    }
}
