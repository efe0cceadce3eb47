using System.Globalization;

namespace TierKv.Server.Client;

/// <summary>
/// A tier's live miss-ratio curve as <c>KV.STATS</c> reports it (docs/operations.md, "Live curves"): the sizes, as
/// multiples of the tier's capacity and in chunks, and per policy the estimated hit ratio at each size.
/// </summary>
/// <param name="Multiples">Sizes as multiples of the tier's capacity (1: its size now).</param>
/// <param name="Capacities">The same sizes in chunks.</param>
/// <param name="HitRatios">Per policy, the estimated hit ratio at each size.</param>
/// <param name="MemoryBytes">Memory the estimator holds.</param>
/// <param name="SampleRate">Share of prefix families behind the LRU curve.</param>
public sealed record TierCurve(IReadOnlyList<double> Multiples, IReadOnlyList<long> Capacities, IReadOnlyDictionary<string, double[]> HitRatios, long MemoryBytes, double SampleRate)
{
    /// <summary>The curve of tier <paramref name="tier"/> in <paramref name="sample"/>, or null when it has none.</summary>
    public static TierCurve? From(StatsSample sample, string tier)
    {
        ArgumentNullException.ThrowIfNull(sample);
        string p = "tier." + tier + ".";
        if (!sample.Values.TryGetValue(p + "curve_multiples", out var m) || !sample.Values.TryGetValue(p + "curve_policies", out var policies))
        {
            return null;
        }

        var multiples = Array.ConvertAll(m.Split(','), s => double.Parse(s, CultureInfo.InvariantCulture));
        var capacities = Array.ConvertAll(sample.Text(p + "curve_capacities").Split(','), s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long c) ? c : 0);
        var ratios = new Dictionary<string, double[]>();
        foreach (var policy in policies.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            ratios[policy] = Array.ConvertAll(sample.Text(p + "curve." + policy).Split(','), s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) ? r : 0);
        }

        return new TierCurve(multiples, capacities, ratios, (long)sample.Number(p + "curve_memory_bytes"), sample.Number(p + "curve_sample_rate"));
    }
}
