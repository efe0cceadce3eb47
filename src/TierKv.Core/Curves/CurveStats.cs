using System.Globalization;

namespace TierKv.Curves;

/// <summary>
/// A live curve as name/value pairs for <c>KV.STATS</c> and <c>INFO</c> (docs/operations.md): under a prefix such as
/// <c>tier.dram.</c>, <c>curve_multiples</c>, <c>curve_capacities</c> and <c>curve_policies</c> (comma-separated), one
/// <c>curve.&lt;policy&gt;</c> of hit ratios per policy in the order of the sizes, and the estimator's
/// <c>curve_memory_bytes</c>, <c>curve_sample_rate</c>, <c>curve_policy_sample_rate</c>, <c>curve_accesses</c>, and how
/// it runs: <c>curve_background</c> (1: on its own thread), <c>curve_inline_drains</c> and <c>curve_cpu_seconds</c>.
/// </summary>
public static class CurveStats
{
    /// <summary>The pairs of <paramref name="estimator"/>'s curve now, names prefixed by <paramref name="prefix"/>.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Pairs(string prefix, MissRatioCurveEstimator estimator)
    {
        ArgumentNullException.ThrowIfNull(estimator);
        var points = estimator.Snapshot();
        var policies = new List<string>();
        foreach (var p in points)
        {
            if (!policies.Contains(p.Policy))
            {
                policies.Add(p.Policy);
            }
        }

        int k = points.Length / Math.Max(1, policies.Count);
        var multiples = new string[k];
        var capacities = new string[k];
        for (int i = 0; i < k; i++)
        {
            multiples[i] = points[i].Multiple.ToString("0.###", CultureInfo.InvariantCulture);
            capacities[i] = points[i].Capacity.ToString(CultureInfo.InvariantCulture);
        }

        var pairs = new List<KeyValuePair<string, string>>
        {
            new(prefix + "curve_multiples", string.Join(',', multiples)),
            new(prefix + "curve_capacities", string.Join(',', capacities)),
            new(prefix + "curve_policies", string.Join(',', policies)),
        };
        for (int p = 0; p < policies.Count; p++)
        {
            var ratios = new string[k];
            for (int i = 0; i < k; i++)
            {
                ratios[i] = points[(p * k) + i].HitRatio.ToString("0.####", CultureInfo.InvariantCulture);
            }

            pairs.Add(new(prefix + "curve." + policies[p], string.Join(',', ratios)));
        }

        pairs.Add(new(prefix + "curve_memory_bytes", estimator.MemoryBytes.ToString(CultureInfo.InvariantCulture)));
        pairs.Add(new(prefix + "curve_sample_rate", estimator.LruSampleRate.ToString("0.######", CultureInfo.InvariantCulture)));
        pairs.Add(new(prefix + "curve_policy_sample_rate", estimator.PolicySampleRate.ToString("0.######", CultureInfo.InvariantCulture)));
        pairs.Add(new(prefix + "curve_accesses", estimator.ObservedAccesses.ToString(CultureInfo.InvariantCulture)));
        pairs.Add(new(prefix + "curve_background", estimator.Background ? "1" : "0"));
        pairs.Add(new(prefix + "curve_inline_drains", estimator.InlineDrains.ToString(CultureInfo.InvariantCulture)));
        pairs.Add(new(prefix + "curve_cpu_seconds", (estimator.BackgroundCpuSeconds ?? 0).ToString("0.###", CultureInfo.InvariantCulture)));
        return pairs;
    }
}
