using TierKv.Tiers.Slots;

namespace TierKv.Store;

/// <summary>Priorities and pins: chunks that eviction keeps longest, or never while pinned (docs/core.md, "Priorities and pins").</summary>
public sealed partial class TieredStore
{
    /// <summary>The priorities and pins the store's local tiers obey.</summary>
    public ChunkPriorities Priorities { get; }

    /// <summary>The most payload bytes <see cref="Pin"/> keeps pinned: the setting, or half the first tier's capacity.</summary>
    public long MaxPinnedBytes => _options.MaxPinnedBytes ?? (_tiers[0].CapacityBytes / 2);

    /// <summary>
    /// Pins the held chunks among <paramref name="keys"/> for <paramref name="ttl"/> (null: until <see cref="Unpin"/>);
    /// returns how many are pinned (missing chunks are skipped). Throws <see cref="PinLimitExceededException"/>, pinning
    /// nothing, when the pinned bytes would pass <see cref="MaxPinnedBytes"/>.
    /// </summary>
    public int Pin(ReadOnlySpan<ChunkKey> keys, TimeSpan? ttl = null) => Priorities.Pin(keys, ttl, MaxPinnedBytes);

    /// <summary>Unpins <paramref name="keys"/> (they stay, evictable again at their priority); returns how many were pinned.</summary>
    public int Unpin(ReadOnlySpan<ChunkKey> keys) => Priorities.Unpin(keys);

    /// <summary>Gives the chunks of <paramref name="keys"/> <paramref name="priority"/> (held ones at once, others when stored).</summary>
    public void SetPriority(ReadOnlySpan<ChunkKey> keys, byte priority)
    {
        foreach (var key in keys)
        {
            Priorities.SetPriority(key, priority);
        }
    }

    /// <summary>Gives the leading chunks of <paramref name="keys"/> inside <paramref name="prefix"/> its priority (see <see cref="PrefixPriority"/>).</summary>
    public void SetPriority(KvLayout layout, ReadOnlySpan<ChunkKey> keys, PrefixPriority prefix) =>
        SetPriority(keys[..prefix.Chunks(layout, keys.Length)], prefix.Priority);

    private void Prioritize(in ChunkKey key, byte priority)
    {
        if (priority != ChunkPriorities.Normal)
        {
            Priorities.SetPriority(key, priority);
        }
    }
}
