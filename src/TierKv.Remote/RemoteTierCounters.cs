namespace TierKv.Remote;

/// <summary>
/// Plain counters of one <see cref="RedisTier"/> (updated with <see cref="Interlocked"/>), so tests, benchmarks and
/// <c>tierkv top</c> see degraded paths without a metrics pipeline. Every degraded path also goes to the
/// <c>TierKv</c> meter when the tier was given one.
/// </summary>
public sealed class RemoteTierCounters
{
#pragma warning disable SA1401, CA1051 // Public fields so Interlocked can update them in place.
    /// <summary>Chunks read, verified and copied out.</summary>
    public long Hits;

    /// <summary>Reads of keys the cluster did not hold (never stored, evicted, expired, lost with a node).</summary>
    public long Misses;

    /// <summary>Values that failed verification (header, layout, key, length or checksum); each was deleted.</summary>
    public long Damaged;

    /// <summary>Calls that failed or timed out (dead, stalled or restarting node) and were served as misses.</summary>
    public long Failures;

    /// <summary>Calls not sent because the node's circuit was open; served as misses at once.</summary>
    public long Rejected;

    /// <summary>Chunks written.</summary>
    public long Writes;

    /// <summary>Writes skipped because the key was already there.</summary>
    public long AlreadyPresent;

    /// <summary>Existence checks asked (keys).</summary>
    public long ExistsKeys;

    /// <summary>Lookups cut short by the lookup budget.</summary>
    public long BudgetExceeded;
#pragma warning restore SA1401, CA1051
}
