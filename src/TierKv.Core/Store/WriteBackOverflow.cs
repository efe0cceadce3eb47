namespace TierKv.Store;

/// <summary>
/// What the tiered store does with a chunk bound for the tier below DRAM (write-back of a DRAM eviction, or
/// write-through) when that tier's bounded write-behind queue is full.
/// </summary>
public enum WriteBackOverflow
{
    /// <summary>
    /// Back-pressure (the default, measured in docs/ssd-tier.md): the store that causes the eviction waits for room,
    /// at most <see cref="TieredStoreOptions.WriteBackWaitTimeout"/>; only then is the chunk shed and counted. The SSD
    /// keeps what it was sized for, and stores slow down to what the disk can take.
    /// </summary>
    Wait,

    /// <summary>Drop the chunk at once and count it (<see cref="TieredStore.ShedWrites"/>): stores never wait for the disk.</summary>
    Shed,
}
