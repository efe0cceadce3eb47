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
    /// Searches capacities for <paramref name="policy"/>: a doubling grid first (in parallel, reusing capacities the
    /// curves already simulated in <paramref name="known"/>), then up to four interpolation steps inside the bracket of
    /// each target (stopping when the bracket is within 5%), so each answer is within about 5% of the smallest such
    /// capacity (hit-ratio curves are not strictly monotone).
    /// </summary>
    public static SizingRecommendation Compute(RequestTrace trace, string policy, ModelShapes.Shape shape, double attainable, IReadOnlyDictionary<int, double>? known = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(shape);
        long bytesPerToken = shape.Layout.ChunkBytes / shape.Layout.TokensPerChunk;
        int max = Math.Max(1, trace.UniqueBlocks);
        // A doubling grid plus the capacities already simulated for the curves (reused, not rerun).
        var gridSet = new SortedSet<int>();
        for (long c = 16; c < max; c *= 2)
        {
            gridSet.Add((int)c);
        }

        gridSet.Add(max);
        if (known is not null)
        {
            foreach (int c in known.Keys.Where(c => c > 0 && c <= max))
            {
                gridSet.Add(c);
            }
        }

        var grid = gridSet.ToList();
        var ratios = new double[grid.Count];
        Parallel.For(0, grid.Count, i => ratios[i] = known is not null && known.TryGetValue(grid[i], out double r) ? r : CurveRunner.Simulate(trace, policy, grid[i]).HitRatio);
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
            double loRatio = hi > 0 ? ratios[hi - 1] : 0;
            int best = grid[hi];
            double bestRatio = ratios[hi];
            // Regula falsi on log capacity (hit-ratio curves are smooth there), kept away from the bracket's ends so
            // it shrinks every step; stops once the bracket is within 5% of the answer.
            for (int step = 0; step < 4 && best - lo > Math.Max(1, best / 20); step++)
            {
                int guess;
                if (lo > 0 && bestRatio > loRatio)
                {
                    double f = (goal - loRatio) / (bestRatio - loRatio);
                    double logGuess = Math.Log(lo) + (Math.Clamp(f, 0.2, 0.8) * (Math.Log(best) - Math.Log(lo)));
                    guess = (int)Math.Round(Math.Exp(logGuess));
                }
                else
                {
                    guess = lo + ((best - lo) / 2);
                }

                guess = Math.Clamp(guess, lo + 1, best - 1);
                double r = CurveRunner.Simulate(trace, policy, Math.Max(1, guess)).HitRatio;
                if (r >= goal)
                {
                    best = guess;
                    bestRatio = r;
                }
                else
                {
                    lo = guess;
                    loRatio = r;
                }
            }

            long tokens = (long)best * trace.BlockTokens;
            targets[t] = new SizingTarget(Fractions[t], bestRatio, best, tokens, tokens * bytesPerToken);
        });
        return new SizingRecommendation(shape.Name, bytesPerToken, policy, attainable, targets);
    }
}
