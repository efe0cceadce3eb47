namespace TierKv.Cli.Output;

/// <summary>
/// A bench's throughput against its baseline measured in the same run, as JSON fields: the median GB/s of each and the
/// ratio of the two medians. The benches report every such comparison this way, so a ratio field means the same in each.
/// </summary>
internal static class BaselineFields
{
    /// <summary>
    /// Sets <paramref name="measured"/> and <paramref name="baseline"/> to the medians of their samples (GB/s) and
    /// <paramref name="ratio"/> to measured over baseline; a field already there (a baseline shared by two figures) keeps
    /// its place. Returns <paramref name="fields"/>.
    /// </summary>
    public static JsonObject Versus(this JsonObject fields, string measured, IReadOnlyList<double> measuredGbs, string baseline, IReadOnlyList<double> baselineGbs, string ratio)
    {
        double m = Stats.Median(measuredGbs);
        double b = Stats.Median(baselineGbs);
        fields[measured] = JsonOutput.Round(m);
        fields[baseline] = JsonOutput.Round(b);
        fields[ratio] = JsonOutput.Round(m / b);
        return fields;
    }
}
