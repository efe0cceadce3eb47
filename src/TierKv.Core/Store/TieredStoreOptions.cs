namespace TierKv.Store;

/// <summary>Settings of a <see cref="TieredStore"/>.</summary>
public sealed record TieredStoreOptions
{
    /// <summary>Chunk reads from slower tiers kept in flight at once per retrieve (the queue depth).</summary>
    public int MaxReadsInFlight { get; init; } = 16;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (MaxReadsInFlight is < 1 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReadsInFlight), MaxReadsInFlight, "MaxReadsInFlight must be in [1, 4096].");
        }
    }
}
