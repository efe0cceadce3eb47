namespace TierKv.Store;

/// <summary>Settings of a <see cref="TieredStore"/>.</summary>
public sealed record TieredStoreOptions
{
    /// <summary>Chunk reads from slower tiers kept in flight at once per retrieve (the queue depth).</summary>
    public int MaxReadsInFlight { get; init; } = 16;

    /// <summary>Chunk writes kept in flight at once per <c>StoreAsync</c>.</summary>
    public int MaxWritesInFlight { get; init; } = 8;

    /// <summary>
    /// How chunks reach the tier below DRAM (the SSD): when DRAM evicts them (write-back, the default, measured in
    /// docs/ssd-tier.md) or as soon as they are stored (write-through).
    /// </summary>
    public LowerTierWriteMode WriteMode { get; init; } = LowerTierWriteMode.WriteBack;

    /// <summary>
    /// What happens when the tier below DRAM cannot take a chunk at once because its bounded write-behind queue is
    /// full: <see cref="WriteBackOverflow.Wait"/> (the default; back-pressure on the store causing the eviction, at
    /// most <see cref="WriteBackWaitTimeout"/>) or <see cref="WriteBackOverflow.Shed"/> (drop and count at once).
    /// </summary>
    public WriteBackOverflow WriteBackOverflow { get; init; } = WriteBackOverflow.Wait;

    /// <summary>
    /// With <see cref="WriteBackOverflow.Wait"/>: the longest a store waits for room in the write-behind queue before
    /// the chunk is shed anyway (and counted in <see cref="TieredStore.WriteBackWaitTimeouts"/>). After a timeout the
    /// store sheds without waiting until the queue has room again, so a hung disk costs one timeout, not one per store.
    /// The default, 1 s, is well above the time a full queue of 32 MiB chunks takes to drain on a 1.3 GB/s disk (0.4 s).
    /// </summary>
    public TimeSpan WriteBackWaitTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Which chunks the tier below DRAM accepts: all, or only those seen (stored or retrieved) at least twice.</summary>
    public LowerTierAdmission Admission { get; init; } = LowerTierAdmission.All;

    /// <summary>Counters kept by the seen-twice admission filter (rounded up to a power of two; one byte each).</summary>
    public int AdmissionFilterSlots { get; init; } = 1 << 16;

    /// <summary>Copy a chunk served by a slower tier into DRAM, so the next retrieve is a DRAM hit.</summary>
    public bool PromoteOnHit { get; init; } = true;

    /// <summary>Chunk reads that <c>PrefetchAsync</c> keeps in flight at once (each holds one chunk-sized buffer).</summary>
    public int MaxPrefetchesInFlight { get; init; } = 4;

    /// <summary>Prefetch chunks waiting or in flight across all requests; beyond it prefetches are shed and counted.</summary>
    public int MaxQueuedPrefetches { get; init; } = 256;

    /// <summary>
    /// On dispose, write DRAM-resident chunks the tier below lacks down to it, so a restarted process starts warm
    /// (matters with write-back, where DRAM holds the newest chunks only in memory).
    /// </summary>
    public bool PersistOnDispose { get; init; } = true;

    /// <summary>
    /// Also write every chunk newly stored in DRAM to the remote tiers (<see cref="Tiers.TierKind.Remote"/>), so other
    /// hosts sharing the cluster hit it. A failing remote tier is counted and skipped; the store still succeeds.
    /// </summary>
    public bool ShareWithRemote { get; init; } = true;

    /// <summary>The most payload bytes <c>TieredStore.Pin</c> keeps pinned (null: half the first tier's capacity).</summary>
    public long? MaxPinnedBytes { get; init; }

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (MaxPinnedBytes is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPinnedBytes), MaxPinnedBytes, "MaxPinnedBytes must not be negative (0 forbids pins).");
        }

        if (MaxReadsInFlight is < 1 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReadsInFlight), MaxReadsInFlight, "MaxReadsInFlight must be in [1, 4096].");
        }

        if (MaxWritesInFlight is < 1 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWritesInFlight), MaxWritesInFlight, "MaxWritesInFlight must be in [1, 4096].");
        }

        if (!Enum.IsDefined(WriteBackOverflow))
        {
            throw new ArgumentOutOfRangeException(nameof(WriteBackOverflow), WriteBackOverflow, "WriteBackOverflow must be Wait or Shed.");
        }

        if (WriteBackWaitTimeout <= TimeSpan.Zero || WriteBackWaitTimeout > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(WriteBackWaitTimeout), WriteBackWaitTimeout, "WriteBackWaitTimeout must be positive and at most 10 minutes: the wait for room in the SSD's write queue is always bounded.");
        }

        if (AdmissionFilterSlots is < 64 or > (1 << 28))
        {
            throw new ArgumentOutOfRangeException(nameof(AdmissionFilterSlots), AdmissionFilterSlots, "AdmissionFilterSlots must be in [64, 2^28].");
        }

        if (MaxPrefetchesInFlight is < 1 or > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPrefetchesInFlight), MaxPrefetchesInFlight, "MaxPrefetchesInFlight must be in [1, 1024].");
        }

        if (MaxQueuedPrefetches < MaxPrefetchesInFlight)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxQueuedPrefetches), MaxQueuedPrefetches, "MaxQueuedPrefetches must be at least MaxPrefetchesInFlight.");
        }
    }
}
