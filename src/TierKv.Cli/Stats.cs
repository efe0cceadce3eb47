namespace TierKv.Cli;

/// <summary>Small statistics over measured samples.</summary>
internal static class Stats
{
    public static double Median(IReadOnlyList<double> samples) => Percentile(samples, 0.5);

    /// <summary>Nearest-rank percentile (q in 0..1).</summary>
    public static double Percentile(IReadOnlyList<double> samples, double q)
    {
        if (samples.Count == 0)
        {
            return 0;
        }

        var sorted = samples.ToArray();
        Array.Sort(sorted);
        int rank = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
