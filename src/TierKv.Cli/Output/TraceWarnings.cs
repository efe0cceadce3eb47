using TierKv.Analysis.Traces;

namespace TierKv.Cli.Output;

/// <summary>Warnings about a trace that reads but breaks an assumption of the figures, on standard error.</summary>
internal static class TraceWarnings
{
    /// <summary>Warns when the trace's block ids are not chained prefix hashes (<see cref="RequestTrace.ParentConflicts"/>).</summary>
    public static void Print(RequestTrace trace)
    {
        if (trace.ParentConflicts > 0)
        {
            Console.Error.WriteLine(
                $"tierkv: warning: {trace.Name}: {trace.ParentConflicts:N0} block accesses follow another block than where their id first appeared " +
                "(or repeat an id within a request): the ids are not chained prefix hashes, so prefix hits assume each block's first prefix, " +
                "and prefix-aware policies in a real tier (replay) may differ from analyze.");
        }
    }
}
