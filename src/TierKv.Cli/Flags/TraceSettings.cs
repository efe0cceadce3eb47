using TierKv.Analysis.Traces;

namespace TierKv.Cli.Flags;

/// <summary>The trace file that <c>analyze</c> and <c>replay</c> read, and the model shape that prices it.</summary>
internal abstract class TraceSettings : ModelSettings
{
    /// <summary>Path of the trace file.</summary>
    [CommandArgument(0, "<TRACE>")]
    [Description("Trace file: Mooncake JSONL (hash_ids of 512-token blocks) or a TierKV access trace (--record-trace).")]
    public string Trace { get; init; } = string.Empty;

    /// <summary>Reads the trace; warns on standard error when its block ids are not chained prefix hashes.</summary>
    public RequestTrace ReadTrace()
    {
        var trace = TraceFiles.Read(Trace);
        TraceWarnings.Print(trace);
        return trace;
    }
}
