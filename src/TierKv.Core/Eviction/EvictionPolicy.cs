
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
        Limit = capacity;
    }

    /// <summary>Number of slots the policy manages: slot numbers are in <c>[0, Capacity)</c>.</summary>
    public int Capacity { get; }

    /// <summary>
    /// How many of those slots the tier may fill now (its slot limit: <see cref="Capacity"/> unless lowered by
    /// <see cref="Resize"/>). Policies size what depends on the cache's size (shadow caches, ghost lists, queue targets,
    /// credits, warm-ups, decays) by the limit, so a tier limited to N slots behaves as one built for N.
    /// </summary>
    public int Limit { get; private set; }

    /// <summary>
    /// The tier's slot limit changed to <paramref name="limit"/> (1 to <see cref="Capacity"/>). The policy keeps what it
    /// has learned (hits, frequencies, ghost entries that still fit) and resizes the rest; it evicts nothing of the
    /// tier's itself (the tier trims to its limit through <see cref="SelectTrimVictim"/>). Called under the tier's lock.
    /// </summary>
    public void Resize(int limit)
    {
        if (limit < 1 || limit > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"The limit of eviction policy '{Name}' must be 1 to its {Capacity} slots.");
        }

        int previous = Limit;
        if (limit == previous)
        {
            return;
        }

        Limit = limit;
        OnResize(previous);
    }

    /// <summary>
    /// <see cref="Limit"/> changed from <paramref name="previous"/>; policies whose state depends on the cache's size
    /// override this (the default does nothing: the order of <c>lru</c> does not depend on the size).
    /// </summary>
    protected virtual void OnResize(int previous)
    {
    }

    /// <summary>
    /// Picks a resident slot to evict because the tier is over its lowered limit, not to make room for a chunk (no access
    /// comes with it), or -1 when no slot can be evicted. The default asks <see cref="SelectVictim"/> for a default key.
    /// </summary>
    public virtual int SelectTrimVictim(IEvictionCandidates candidates) => SelectVictim(default, candidates);

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
