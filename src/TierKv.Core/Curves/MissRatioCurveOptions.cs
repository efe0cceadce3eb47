namespace TierKv.Curves;

/// <summary>
/// Settings of a tier's <see cref="MissRatioCurveEstimator"/>: which sizes and policies it estimates, and the memory
/// it may use. Validated when the estimator is built.
/// </summary>
public sealed record MissRatioCurveOptions
{
    /// <summary>The sizes estimated, as multiples of the tier's capacity in slots (1 is the tier's own size).</summary>
    public IReadOnlyList<double> Multiples { get; init; } = [0.25, 0.5, 1, 2, 4, 8];

    /// <summary>
    /// Policies simulated besides LRU (whose curve comes from one exact stack structure), as miniature caches. Empty
    /// (the default): LRU only; null: the tier's own policy. Each costs time on every sampled access (docs/operations.md).
    /// </summary>
    public IReadOnlyList<string>? Policies { get; init; } = [];

    /// <summary>
    /// Most keys the LRU curve tracks, at most 2^21 (about 38 bytes each: an 8-byte cell in a table at most three
    /// eighths full, and four accesses' worth of time ring and bitmap; up to twice that with power-of-two rounding). The LRU curve samples prefix families at
    /// <c>min(1, MaxTrackedKeys / (largest multiple x capacity))</c>, as SHARDS's fixed-size variant does.
    /// </summary>
    public int MaxTrackedKeys { get; init; } = 1 << 18;

    /// <summary>
    /// Share of prefix families the other policies' miniature caches simulate (each at this share of its size); a
    /// power of two between 1/1024 and 1. Their cost per access scales with it.
    /// </summary>
    public double PolicySampleRate { get; init; } = 1.0 / 8;

    /// <summary>Most slots all miniature caches together may have (about 1 KiB each for <c>leader</c>).</summary>
    public int MaxPolicySlots { get; init; } = 1 << 18;

    /// <summary>
    /// Simulate on a thread of the estimator's own (true, the default): the tier only appends each access to a ring of
    /// <see cref="RingEntries"/>, and the simulation's memory stalls leave the serving path; the thread's processor
    /// time is reported (<see cref="MissRatioCurveEstimator.BackgroundCpuSeconds"/>). False: inline, under the tier's
    /// lock. Both give the same curves.
    /// </summary>
    public bool Background { get; init; } = true;

    /// <summary>
    /// Accesses the ring between the tier and the background thread holds: a power of two from 16 to 2^20, 40 bytes
    /// each (counted in <see cref="MissRatioCurveEstimator.MemoryBytes"/>). When it is full the tier simulates a batch
    /// itself rather than drop or wait.
    /// </summary>
    public int RingEntries { get; init; } = 4096;

    /// <summary>Seed of the family hash (tests vary it; a daemon keeps the default).</summary>
    public ulong Seed { get; init; } = 0x5EED_C0FF_EE15_600DUL;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (Multiples.Count is 0 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(Multiples), Multiples.Count, "Curves:Multiples needs 1 to 16 sizes.");
        }

        foreach (double m in Multiples)
        {
            if (!double.IsFinite(m) || m <= 0 || m > 1024)
            {
                throw new ArgumentOutOfRangeException(nameof(Multiples), m, "Curves:Multiples must be positive multiples of the capacity, at most 1024.");
            }
        }

        if (MaxTrackedKeys is < 16 or > LruStackCurve.MaxKeys)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTrackedKeys), MaxTrackedKeys, $"Curves:MaxTrackedKeys must be in [16, {LruStackCurve.MaxKeys}].");
        }

        if (PolicySampleRate is <= 0 or > 1 || !double.IsPow2(1 / PolicySampleRate) || PolicySampleRate < 1.0 / 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(PolicySampleRate), PolicySampleRate, "Curves:PolicySampleRate must be a power of two between 1/1024 and 1.");
        }

        if (RingEntries is < 16 or > 1 << 20 || !int.IsPow2(RingEntries))
        {
            throw new ArgumentOutOfRangeException(nameof(RingEntries), RingEntries, "Curves:RingEntries must be a power of two between 16 and 1048576.");
        }

        if (MaxPolicySlots < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPolicySlots), MaxPolicySlots, "Curves:MaxPolicySlots must be at least 16.");
        }
    }
}
