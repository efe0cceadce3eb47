using TierKv.Metrics;

namespace TierKv.Server;

/// <summary>Plain counters of one tenant's traffic (updated with <see cref="Interlocked"/>), read by <c>KV.STATS</c>, INFO and <c>tierkv top</c>.</summary>
public sealed class ServerStats
{
#pragma warning disable CA1051 // Public fields so Interlocked can update them in place.
    /// <summary>Commands executed.</summary>
    public long Commands;

    /// <summary>Error replies sent.</summary>
    public long Errors;

    /// <summary>GETs answered with a value.</summary>
    public long GetHits;

    /// <summary>GETs answered with null.</summary>
    public long GetMisses;

    /// <summary>Values stored.</summary>
    public long Puts;

    /// <summary>Values not stored (over quota with every slot pinned, too large, failed).</summary>
    public long PutRejections;

    /// <summary>Lookups answered.</summary>
    public long Lookups;

    /// <summary>Tokens asked for by lookups.</summary>
    public long LookupRequestedTokens;

    /// <summary>Value bytes received.</summary>
    public long BytesIn;

    /// <summary>Value bytes sent.</summary>
    public long BytesOut;
#pragma warning restore CA1051

    /// <summary>Server-side latency of GET (to the last byte handed to the socket).</summary>
    public LatencyHistogram GetLatency { get; } = new();

    /// <summary>Server-side latency of SET/KV.PUT (from the header to the commit).</summary>
    public LatencyHistogram PutLatency { get; } = new();

    /// <summary>Server-side latency of KV.LOOKUP.</summary>
    public LatencyHistogram LookupLatency { get; } = new();

    internal void RecordCommand() => Interlocked.Increment(ref Commands);

    internal void RecordError() => Interlocked.Increment(ref Errors);

    internal void RecordGetHit(int bytes)
    {
        Interlocked.Increment(ref GetHits);
        Interlocked.Add(ref BytesOut, bytes);
    }

    internal void RecordGetMiss() => Interlocked.Increment(ref GetMisses);

    internal void RecordPut(int bytes, long nanoseconds)
    {
        Interlocked.Increment(ref Puts);
        Interlocked.Add(ref BytesIn, bytes);
        PutLatency.RecordNanoseconds(nanoseconds);
    }

    internal void RecordPutRejection() => Interlocked.Increment(ref PutRejections);

    internal void RecordLookup(long requestedTokens, long nanoseconds)
    {
        Interlocked.Increment(ref Lookups);
        Interlocked.Add(ref LookupRequestedTokens, requestedTokens);
        LookupLatency.RecordNanoseconds(nanoseconds);
    }
}
