
namespace TierKv.Eviction;

/// <summary>
/// Chooses which resident chunk a full tier gives up. Policies work on slot numbers in <c>[0, Capacity)</c> and
/// keep their own bookkeeping in preallocated arrays, so steady-state operation allocates nothing. A policy is not
/// thread-safe: its tier calls it under the tier's lock.
/// </summary>
public abstract class EvictionPolicy
{
    /// <summary>Creates a policy for <paramref name="capacity"/> slots.</summary>
    protected EvictionPolicy(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>Number of slots the policy manages.</summary>
    public int Capacity { get; }

    /// <summary>Lower-case name, e.g. <c>lru</c>, as used on the command line and in reports.</summary>
    public abstract string Name { get; }

    /// <summary>A chunk was admitted into <paramref name="slot"/>.</summary>
    public abstract void OnInsert(int slot, ChunkKey key);

    /// <summary>
    /// A chunk whose prefix ends with <paramref name="parent"/> (null: the first chunk of a prefix) was admitted into
    /// <paramref name="slot"/>. Tiers that know the parent call this overload; policies that use it override it (the
    /// default forwards to <see cref="OnInsert(int, ChunkKey)"/>).
    /// </summary>
    public virtual void OnInsert(int slot, ChunkKey key, ChunkKey? parent) => OnInsert(slot, key);

    /// <summary>The chunk in <paramref name="slot"/> was read.</summary>
    public abstract void OnHit(int slot);

    /// <summary>The chunk in <paramref name="slot"/> left the tier (evicted or deleted).</summary>
    public abstract void OnRemove(int slot);

    /// <summary>
    /// Picks a resident slot to evict to make room for <paramref name="incoming"/>, honouring
    /// <see cref="IEvictionCandidates.CanEvict"/>, or -1 when no slot can be evicted. The tier then calls
    /// <see cref="OnRemove"/> for the chosen slot.
    /// </summary>
    public abstract int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates);
}
