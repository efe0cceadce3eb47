namespace TierKv.Cli.Output;

/// <summary>Counts per tier (tokens or chunks each tier served), as a JSON object and as a table cell.</summary>
internal static class TierCounts
{
    /// <summary>The counts as a JSON object, tier name to count, in their order.</summary>
    public static JsonObject ToJson(IEnumerable<KeyValuePair<string, long>> counts)
    {
        var o = new JsonObject();
        foreach (var (tier, n) in counts)
        {
            o[tier] = n;
        }

        return o;
    }

    /// <summary>The counts as a JSON object, tier name to count, in their order.</summary>
    public static JsonObject ToJson(IEnumerable<KeyValuePair<string, int>> counts) => ToJson(counts.Select(kv => KeyValuePair.Create(kv.Key, (long)kv.Value)));

    /// <summary><c>dram 512, ssd 256</c>; <paramref name="none"/> when there are none.</summary>
    public static string Describe<T>(IEnumerable<KeyValuePair<string, T>> counts, string none = "-")
    {
        string text = string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}"));
        return text.Length == 0 ? none : text;
    }
}
