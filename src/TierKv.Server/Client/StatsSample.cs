using System.Globalization;

namespace TierKv.Server.Client;

/// <summary>
/// One reading of a server's <c>KV.STATS</c> (the tenant's counters, latency percentiles and tiers) and when it was
/// taken; two of them make a <see cref="StatsInterval"/>, which is what <c>tierkv top</c> shows.
/// </summary>
public sealed class StatsSample
{
    /// <summary>Wraps name/value pairs read at <paramref name="timestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public StatsSample(IReadOnlyDictionary<string, string> values, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(values);
        Values = values;
        Timestamp = timestamp;
    }

    /// <summary>The <c>KV.STATS</c> pairs as sent by the server.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    /// <summary>When the reply arrived (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public long Timestamp { get; }

    /// <summary>The tier names, fastest first (<c>dram</c>, <c>ssd</c>).</summary>
    public IReadOnlyList<string> Tiers => Text("tiers").Split(',', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Reads <c>KV.STATS</c> with <paramref name="client"/>.</summary>
    public static StatsSample Take(TierKvClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var values = client.Stats();
        return new StatsSample(values, Stopwatch.GetTimestamp());
    }

    /// <summary>Reads <c>KV.STATS</c> with <paramref name="client"/>.</summary>
    public static async ValueTask<StatsSample> TakeAsync(TierKvAsyncClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var values = await client.StatsAsync(cancellationToken).ConfigureAwait(false);
        return new StatsSample(values, Stopwatch.GetTimestamp());
    }

    /// <summary>A field as text, or "-" when the server did not send it.</summary>
    public string Text(string name) => Values.TryGetValue(name, out var v) ? v : "-";

    /// <summary>A numeric field, or 0 when absent or not a number.</summary>
    public double Number(string name) =>
        Values.TryGetValue(name, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x : 0;
}
