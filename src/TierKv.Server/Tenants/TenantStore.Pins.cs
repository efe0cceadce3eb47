using TierKv.Tiers.Slots;

namespace TierKv.Server.Tenants;

/// <summary>Pins and priorities of the tenant's values: one registry for both value classes, with one limit.</summary>
internal sealed partial class TenantStore
{
    /// <summary>Payload bytes the tenant may keep pinned.</summary>
    public long MaxPinnedBytes { get; }

    /// <summary>The tenant's registry (shared by both value classes' stores).</summary>
    private ChunkPriorities Priorities => _chunks.Store.Priorities;

    /// <summary>Values pinned now.</summary>
    public int PinnedChunks => Priorities.PinnedChunks;

    /// <summary>Record bytes of the values pinned now.</summary>
    public long PinnedBytes => Priorities.PinnedBytes;

    /// <summary>Pins the held values among <paramref name="keys"/>; throws <see cref="PinLimitExceededException"/> past the limit.</summary>
    public int Pin(ReadOnlySpan<ChunkKey> keys, TimeSpan? ttl) => Priorities.Pin(keys, ttl, MaxPinnedBytes);

    /// <summary>Unpins <paramref name="keys"/>; returns how many were pinned.</summary>
    public int Unpin(ReadOnlySpan<ChunkKey> keys) => Priorities.Unpin(keys);

    /// <summary>Gives <paramref name="key"/> a priority (0 to 255) before its value is written; -1 leaves it as it is.</summary>
    public void SetPriority(in ChunkKey key, int priority)
    {
        if (priority >= 0)
        {
            Priorities.SetPriority(key, (byte)priority);
        }
    }
}
