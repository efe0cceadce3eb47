using TierKv.Analysis.Traces;

namespace TierKv.Analysis;

/// <summary>Request and volume statistics of a trace.</summary>
public sealed record TraceStatistics(
    int Requests,
    double SpanSeconds,
    double RequestsPerSecond,
    double MeanInputTokens,
    int MedianInputTokens,
    int P99InputTokens,
    double MeanOutputTokens,
    double MeanBlocksPerRequest,
    long BlockAccesses,
    int UniqueBlocks,
    long InputTokens,
    int Tenants)
{
    /// <summary>Computes the statistics of <paramref name="trace"/>.</summary>
    public static TraceStatistics Of(RequestTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        int n = trace.RequestCount;
        var inputs = (int[])trace.InputTokens.Clone();
        Array.Sort(inputs);
        long inSum = 0, outSum = 0;
        foreach (int v in trace.InputTokens)
        {
            inSum += v;
        }

        foreach (int v in trace.OutputTokens)
        {
            outSum += v;
        }

        long t0 = trace.TimestampsMs.Min(), t1 = trace.TimestampsMs.Max();
        double span = (t1 - t0) / 1000.0;
        return new TraceStatistics(
            n, span, span > 0 ? n / span : 0, (double)inSum / n, inputs[n / 2], inputs[Math.Min(n - 1, (int)(n * 0.99))], (double)outSum / n,
            (double)trace.BlockAccesses / n, trace.BlockAccesses, trace.UniqueBlocks, inSum, trace.Tenants.Distinct().Count());
    }
}
