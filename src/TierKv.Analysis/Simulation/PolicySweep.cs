namespace TierKv.Analysis.Simulation;

/// <summary>
/// <c>analyze --sweep</c>: every policy at 20 capacities spaced evenly in log scale between 500 blocks and the trace's
/// distinct blocks, and each policy's worst shortfall against the better of the two simple policies (<c>lru</c> and
/// <c>lru-prefix</c>) at the same capacity: the rule the default policy must keep on every trace (docs/analysis.md).
/// </summary>
public static class PolicySweep
{
    /// <summary>Number of capacities of a sweep.</summary>
    public const int Points = 20;

    /// <summary>Smallest capacity of a sweep, in blocks.</summary>
    public const int MinCapacity = 500;

    /// <summary>The simple policies every other one is held against.</summary>
    public static IReadOnlyList<string> SimplePolicies { get; } = ["lru", "lru-prefix"];

    /// <summary>
    /// The sweep's capacities for a trace of <paramref name="distinctBlocks"/> distinct blocks: 20 points from 500 to
    /// that count, evenly spaced in log scale, rounded to whole blocks (fewer when rounding makes two equal; only the
    /// distinct count when it is 500 or less).
    /// </summary>
    public static IReadOnlyList<int> Capacities(int distinctBlocks)
    {
        int hi = Math.Max(1, distinctBlocks);
        if (hi <= MinCapacity)
        {
            return [hi];
        }

        var list = new List<int>(Points);
        double ratio = Math.Log((double)hi / MinCapacity);
        for (int i = 0; i < Points; i++)
        {
            int c = i == Points - 1 ? hi : (int)Math.Round(MinCapacity * Math.Exp(ratio * i / (Points - 1)));
            if (list.Count == 0 || list[^1] != c)
            {
                list.Add(c);
            }
        }

        return list;
    }

    /// <summary>
    /// For each policy of <paramref name="points"/>: its lowest hit ratio minus the better of <c>lru</c> and
    /// <c>lru-prefix</c> at the same capacity, and the capacity where that happens (the smallest on ties). Capacities
    /// where neither simple policy was simulated are skipped.
    /// </summary>
    public static IReadOnlyDictionary<string, SweepShortfall> WorstVsBestSimple(IEnumerable<SimulationResult> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var best = new Dictionary<int, double>();
        var all = points.ToList();
        foreach (var r in all)
        {
            if (SimplePolicies.Contains(r.Policy))
            {
                best[r.Capacity] = best.TryGetValue(r.Capacity, out double b) ? Math.Max(b, r.HitRatio) : r.HitRatio;
            }
        }

        var worst = new Dictionary<string, SweepShortfall>();
        foreach (var r in all.OrderBy(r => r.Capacity))
        {
            if (!best.TryGetValue(r.Capacity, out double b))
            {
                continue;
            }

            double delta = r.HitRatio - b;
            if (!worst.TryGetValue(r.Policy, out var w) || delta < w.Delta)
            {
                worst[r.Policy] = new SweepShortfall(delta, r.Capacity);
            }
        }

        return worst;
    }
}
