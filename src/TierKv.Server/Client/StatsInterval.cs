using System.Globalization;
using System.Text.Json.Nodes;

namespace TierKv.Server.Client;

/// <summary>
/// Two <see cref="StatsSample"/>s of one server and the rates between them: the figures of one <c>tierkv top</c>
/// refresh. Counters are the later sample's totals; rates and hit ratios cover only the time between the two samples;
/// latency percentiles are the server's since it started.
/// </summary>
public sealed class StatsInterval
{
    /// <summary>The figures between <paramref name="before"/> and <paramref name="after"/> (taken from the same server and tenant).</summary>
    public StatsInterval(StatsSample before, StatsSample after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        Before = before;
        After = after;

        // A zero-length interval (both samples the same) would divide by zero; a millisecond keeps rates finite.
        Seconds = Math.Max(Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds, 1e-3);
    }

    /// <summary>The earlier sample.</summary>
    public StatsSample Before { get; }

    /// <summary>The later sample.</summary>
    public StatsSample After { get; }

    /// <summary>Seconds between the samples (at least 0.001).</summary>
    public double Seconds { get; }

    /// <summary>How much a counter grew between the samples.</summary>
    public double Delta(string name) => After.Number(name) - Before.Number(name);

    /// <summary>How fast a counter grew between the samples, per second.</summary>
    public double PerSecond(string name) => Delta(name) / Seconds;

    /// <summary>Share of the tokens asked for by lookups in the interval that <paramref name="tier"/> served; null when no lookup asked for any.</summary>
    public double? TierHitRatio(string tier)
    {
        double requested = Delta("lookup_requested_tokens");
        return requested > 0 ? Delta("tier." + tier + ".hit_tokens") / requested : null;
    }

    /// <summary>Share of the tokens asked for by lookups in the interval that any tier served; null when no lookup asked for any.</summary>
    public double? HitRatio()
    {
        double requested = Delta("lookup_requested_tokens");
        if (requested <= 0)
        {
            return null;
        }

        double hits = 0;
        foreach (var tier in After.Tiers)
        {
            hits += Delta("tier." + tier + ".hit_tokens");
        }

        return hits / requested;
    }

    /// <summary>
    /// The interval as the JSON object of <c>tierkv top --json</c> (field names documented in docs/operations.md).
    /// </summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["tenant"] = After.Text("tenant"),
            ["connected_clients"] = Long("connected_clients"),
            ["uptime_s"] = Long("uptime_s"),
            ["interval_s"] = Math.Round(Seconds, 4),
            ["commands"] = Long("commands"),
            ["commands_per_s"] = Rate("commands"),
            ["errors"] = Long("errors"),
            ["lookups"] = Long("lookups"),
            ["lookups_per_s"] = Rate("lookups"),
            ["lookup_requested_tokens"] = Long("lookup_requested_tokens"),
            ["lookup_hit_ratio"] = Ratio(HitRatio()),
            ["lookup_p50_us"] = Micros("lookup_p50_us"),
            ["lookup_p99_us"] = Micros("lookup_p99_us"),
            ["get_hits"] = Long("get_hits"),
            ["get_misses"] = Long("get_misses"),
            ["get_hits_per_s"] = Rate("get_hits"),
            ["get_misses_per_s"] = Rate("get_misses"),
            ["get_p50_us"] = Micros("get_p50_us"),
            ["get_p99_us"] = Micros("get_p99_us"),
            ["puts"] = Long("puts"),
            ["puts_per_s"] = Rate("puts"),
            ["put_rejections"] = Long("put_rejections"),
            ["put_p50_us"] = Micros("put_p50_us"),
            ["put_p99_us"] = Micros("put_p99_us"),
            ["bytes_in"] = Long("bytes_in"),
            ["bytes_out"] = Long("bytes_out"),
            ["in_gbs"] = Math.Round(PerSecond("bytes_in") / 1e9, 4),
            ["out_gbs"] = Math.Round(PerSecond("bytes_out") / 1e9, 4),
            ["gc_gen0_collections"] = Long("gc_gen0_collections"),
            ["gc_gen2_collections"] = Long("gc_gen2_collections"),
            ["gc_pause_ms"] = Long("gc_pause_ms"),
            ["gc_allocated_bytes"] = Long("gc_allocated_bytes"),
            ["pinned_chunks"] = Long("pinned_chunks"),
            ["pinned_bytes"] = Long("pinned_bytes"),
            ["max_pinned_bytes"] = Long("max_pinned_bytes"),
        };

        var tiers = new JsonArray();
        foreach (var name in After.Tiers)
        {
            string p = "tier." + name + ".";
            tiers.Add(new JsonObject
            {
                ["name"] = name,
                ["kind"] = After.Text(p + "kind"),
                ["hit_ratio"] = Ratio(TierHitRatio(name)),
                ["hit_tokens"] = Long(p + "hit_tokens"),
                ["reads"] = Long(p + "reads"),
                ["writes"] = Long(p + "writes"),
                ["read_bytes"] = Long(p + "read_bytes"),
                ["write_bytes"] = Long(p + "write_bytes"),
                ["read_gbs"] = Math.Round(PerSecond(p + "read_bytes") / 1e9, 4),
                ["write_gbs"] = Math.Round(PerSecond(p + "write_bytes") / 1e9, 4),
                ["read_p50_us"] = Micros(p + "read_p50_us"),
                ["read_p99_us"] = Micros(p + "read_p99_us"),
                ["used_bytes"] = Long(p + "used_bytes"),
                ["capacity_bytes"] = Long(p + "capacity_bytes"),
                ["chunks"] = Long(p + "chunks"),
                ["evictions"] = Long(p + "evictions"),
                ["evictions_per_s"] = Rate(p + "evictions"),
                ["rejections"] = Long(p + "rejections"),
                ["checksum_failures"] = Long(p + "checksum_failures"),
                ["io_errors"] = Long(p + "io_errors"),
                ["curve"] = CurveJson(TierCurve.From(After, name)),
            });
        }

        o["tiers"] = tiers;
        return o;
    }

    private long Long(string name) =>
        After.Values.TryGetValue(name, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long x) ? x : 0;

    // Percentiles come as decimals ("3932.16").
    private double Micros(string name) => Math.Round(After.Number(name), 2);

    private double Rate(string name) => Math.Round(PerSecond(name), 2);

    private static JsonObject? CurveJson(TierCurve? c)
    {
        if (c is null)
        {
            return null;
        }

        var policies = new JsonObject();
        foreach (var (policy, ratios) in c.HitRatios)
        {
            policies[policy] = new JsonArray([.. Array.ConvertAll(ratios, r => (JsonNode?)JsonValue.Create(r))]);
        }

        return new JsonObject
        {
            ["multiples"] = new JsonArray([.. c.Multiples.Select(x => (JsonNode?)JsonValue.Create(x))]),
            ["capacities"] = new JsonArray([.. c.Capacities.Select(x => (JsonNode?)JsonValue.Create(x))]),
            ["hit_ratios"] = policies,
            ["memory_bytes"] = c.MemoryBytes,
            ["sample_rate"] = c.SampleRate,
        };
    }

    private static JsonNode? Ratio(double? r) => r is { } x ? JsonValue.Create(Math.Round(x, 4)) : null;
}
