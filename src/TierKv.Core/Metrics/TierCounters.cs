namespace TierKv.Metrics;

/// <summary>Plain counters of one tier (updated with <see cref="Interlocked"/>), readable without a metrics pipeline.</summary>
public sealed class TierCounters
{
    internal TierCounters(string name) => Name = name;

    /// <summary>Tier name.</summary>
    public string Name { get; }

    /// <summary>Reports capacity, usage and chunk count when the tier registered itself.</summary>
    public Func<(long Capacity, long Used, long Chunks)>? Usage { get; set; }

    /// <summary>The tier's live miss-ratio curve, when it keeps one.</summary>
    public TierKv.Curves.MissRatioCurveEstimator? Curves { get; set; }

#pragma warning disable SA1401, CA1051 // Public fields so Interlocked can update them in place.
    /// <summary>Leading tokens this tier served to lookups.</summary>
    public long HitTokens;

    /// <summary>Chunks read.</summary>
    public long Reads;

    /// <summary>Payload bytes read.</summary>
    public long ReadBytes;

    /// <summary>Chunks written.</summary>
    public long Writes;

    /// <summary>Payload bytes written.</summary>
    public long WriteBytes;

    /// <summary>Chunks evicted.</summary>
    public long Evictions;

    /// <summary>Writes declined.</summary>
    public long Rejections;

    /// <summary>Damaged chunks detected.</summary>
    public long ChecksumFailures;

    /// <summary>Failed I/O operations.</summary>
    public long IoErrors;
#pragma warning restore SA1401, CA1051

    /// <summary>Read latency distribution.</summary>
    public LatencyHistogram ReadLatency { get; } = new();

    /// <summary>Write latency distribution.</summary>
    public LatencyHistogram WriteLatency { get; } = new();
}

/// <summary>Counters of lookups across all tiers.</summary>
public sealed class LookupCounters
{
#pragma warning disable CA1051
    /// <summary>Lookups made.</summary>
    public long Count;

    /// <summary>Tokens asked for.</summary>
    public long RequestedTokens;
#pragma warning restore CA1051

    internal void Add(long tokens)
    {
        Interlocked.Increment(ref Count);
        Interlocked.Add(ref RequestedTokens, tokens);
    }
}
