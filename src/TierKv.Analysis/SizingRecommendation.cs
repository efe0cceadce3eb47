using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Keys;

namespace TierKv.Analysis;

/// <summary>
/// Capacity that reaches 50%, 90% and 99% of the attainable hit ratio (the infinite cache's) under a policy, in blocks,
/// tokens and bytes of KV for a model shape. DRAM is sized for the 50% working set, the SSD tier for 99%.
/// </summary>
public sealed record SizingRecommendation(string Model, long BytesPerToken, string Policy, double Attainable, IReadOnlyList<SizingTarget> Targets)
{
    /// <summary>Target fractions of the attainable hit ratio.</summary>
    public static IReadOnlyList<double> Fractions { get; } = [0.5, 0.9, 0.99];

    /// <summary>Suggested DRAM tier size: the capacity for 50% of the attainable hit ratio.</summary>
    public long DramBytes => Targets[0].Bytes;

    /// <summary>Suggested SSD tier size: the capacity for 99% of the attainable hit ratio.</summary>
    public long SsdBytes => Targets[^1].Bytes;

    /// <summary>
    /// Searches capacities for <paramref name="policy"/>: a geometric grid first (in parallel), then a few bisection
    /// steps inside the bracket of each target, so each answer is within about 5% of the smallest such capacity.
    /// </summary>
    public static SizingRecommendation Compute(RequestTrace trace, string policy, ModelShapes.Shape shape, double attainable)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(shape);
        long bytesPerToken = shape.Layout.ChunkBytes / shape.Layout.TokensPerChunk;
        int max = Math.Max(1, trace.UniqueBlocks);
        var grid = new List<int>();
        for (double c = 16; c < max; c *= 1.6)
        {
            grid.Add((int)c);
        }

        grid.Add(max);
        var ratios = new double[grid.Count];
        Parallel.For(0, grid.Count, i => ratios[i] = CurveRunner.Simulate(trace, policy, grid[i]).HitRatio);
        var targets = new SizingTarget[Fractions.Count];
        Parallel.For(0, Fractions.Count, t =>
        {
            double goal = Fractions[t] * attainable;
            int hi = grid.Count - 1;
            for (int i = 0; i < grid.Count; i++)
            {
                if (ratios[i] >= goal)
                {
                    hi = i;
                    break;
                }
            }

            int lo = hi > 0 ? grid[hi - 1] : 0;
            int best = grid[hi];
            double bestRatio = ratios[hi];
            for (int step = 0; step < 4 && best - lo > 1; step++)
            {
                int mid = lo + ((best - lo) / 2);
                double r = CurveRunner.Simulate(trace, policy, Math.Max(1, mid)).HitRatio;
                if (r >= goal)
                {
                    best = mid;
                    bestRatio = r;
                }
                else
                {
                    lo = mid;
                }
            }

            long tokens = (long)best * trace.BlockTokens;
            targets[t] = new SizingTarget(Fractions[t], bestRatio, best, tokens, tokens * bytesPerToken);
        });
        return new SizingRecommendation(shape.Name, bytesPerToken, policy, attainable, targets);
    }
}
