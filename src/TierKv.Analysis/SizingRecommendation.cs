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
    /// Searches capacities for <paramref name="policy"/>. It starts from what is known for free: the capacities the
    /// curves already simulated (<paramref name="known"/>) and the trace's distinct blocks (a cache that holds
    /// every block never evicts, so it reaches <paramref name="attainable"/>). Where a target's bracket is wider than a
    /// doubling, the points of a doubling grid (16, 32, 64, ...) inside it are simulated (in parallel); then up to four
    /// interpolation steps inside each target's bracket (stopping when the bracket is within 5%), so each answer is
    /// within about 5% of the smallest such capacity (hit-ratio curves are not strictly monotone).
    /// </summary>
    public static SizingRecommendation Compute(RequestTrace trace, string policy, ModelShapes.Shape shape, double attainable, IReadOnlyDictionary<int, double>? known = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(shape);
        long bytesPerToken = shape.Layout.ChunkBytes / shape.Layout.TokensPerChunk;
        if (!(attainable > 0))
        {
            // Nothing is ever reused: no cache reaches anything, and none is needed.
            var none = Fractions.Select(f => new SizingTarget(f, 0, 0, 0, 0)).ToArray();
            return new SizingRecommendation(shape.Name, bytesPerToken, policy, attainable, none);
        }

        int max = Math.Max(1, trace.UniqueBlocks);
        var points = new SortedDictionary<int, double> { [max] = attainable };
        if (known is not null)
        {
            foreach (var (c, r) in known)
            {
                if (c > 0 && c < max)
                {
                    points[c] = r;
                }
            }
        }

        // Grid points inside every bracket that is wider than a doubling and holds a target.
        var missing = new SortedSet<int>();
        foreach (double fraction in Fractions)
        {
            var (lo, hi) = Bracket(points, fraction * attainable);
            for (long c = 16; c < hi; c *= 2)
            {
                if (c > lo && hi > 2 * (long)Math.Max(lo, 8))
                {
                    missing.Add((int)c);
                }
            }
        }

        var extra = missing.ToArray();
        var extraRatios = new double[extra.Length];
        Parallel.For(0, extra.Length, i => extraRatios[i] = CurveRunner.Simulate(trace, policy, extra[i]).HitRatio);
        for (int i = 0; i < extra.Length; i++)
        {
            points[extra[i]] = extraRatios[i];
        }

        var grid = points.Keys.ToList();
        var ratios = points.Values.ToArray();
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

    /// <summary>The first capacity whose hit ratio reaches <paramref name="goal"/>, and the capacity before it.</summary>
    private static (int Lo, int Hi) Bracket(SortedDictionary<int, double> points, double goal)
    {
        int lo = 0;
        foreach (var (c, r) in points)
        {
            if (r >= goal)
            {
                return (lo, c);
            }

            lo = c;
        }

        return (lo, lo);
    }
}
