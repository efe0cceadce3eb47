using TierKv.Eviction;
using TierKv.Tiers.Slots;

namespace TierKv.Curves;

/// <summary>
/// A miniature simulation (keys only) of one of TierKV's real eviction policies at a scaled-down size, fed the sampled
/// families: the bookkeeping mirrors the simulator of <c>tierkv analyze</c> (<c>PolicySimulator</c>) and <see cref="HostMemoryTier"/> (free slots,
/// parent links for <see cref="IEvictionCandidates.IsLeaf"/>, the parent key on insert). Counts prefix hits. Not
/// thread-safe.
/// </summary>
internal sealed class MiniatureCache : IEvictionCandidates
{
    private readonly EvictionPolicy _policy;
    private readonly ChunkKey[] _keys;
    private readonly SlotIndex _index;
    private readonly SlotLineage _lineage;
    private readonly int[] _free;
    private readonly PrefixRuns _prefix = new();
    private int _freeCount;
    private long _hits;
    private long _accesses;

    /// <summary>A cache of <paramref name="slots"/> slots run by <paramref name="policy"/>.</summary>
    public MiniatureCache(string policy, int slots)
    {
        _policy = EvictionPolicies.Create(policy, slots);
        _keys = new ChunkKey[slots];
        _index = new SlotIndex(_keys);
        _lineage = new SlotLineage(slots);
        _free = new int[slots];
        for (int i = 0; i < slots; i++)
        {
            _free[i] = slots - 1 - i;
        }

        _freeCount = slots;
    }

    /// <summary>Slots simulated.</summary>
    public int Slots => _keys.Length;

    /// <summary>Prefix hits so far.</summary>
    public long Hits => Volatile.Read(ref _hits);

    /// <summary>Accesses so far.</summary>
    public long Accesses => Volatile.Read(ref _accesses);

    /// <summary>Hits over accesses (0 before any).</summary>
    public double HitRatio
    {
        get
        {
            long a = Accesses;
            return a == 0 ? 0 : (double)Hits / a;
        }
    }

    /// <summary>One access of <paramref name="key"/> (parent null: the first chunk of a chain).</summary>
    public void Access(in ChunkKey key, ChunkKey? parent)
    {
        bool hit = _index.TryGet(key, out int s);
        if (hit)
        {
            _policy.OnHit(s);
        }
        else
        {
            Insert(key, parent);
        }

        // Level 0: in the leading run of hits; 1: not.
        int level = hit ? (parent is { } p ? _prefix.LevelOf(p, 1) : 0) : 1;
        _prefix.Set(key, level);
        _hits += level == 0 ? 1 : 0;
        _accesses++;
    }

    bool IEvictionCandidates.CanEvict(int slot) => true;

    bool IEvictionCandidates.IsLeaf(int slot) => _lineage.IsLeaf(slot);

    private void Insert(in ChunkKey key, ChunkKey? parent)
    {
        int s;
        if (_freeCount > 0)
        {
            s = _free[--_freeCount];
        }
        else
        {
            s = _policy.SelectVictim(key, this);
            if (s < 0)
            {
                return;
            }

            _index.RemoveSlot(s);
            _policy.OnRemove(s);
            _lineage.Detach(s);
            _lineage.Retire(s);
        }

        _keys[s] = key;
        _index.Add(key, s);
        int parentSlot = parent is { } p && _index.TryGet(p, out int ps) ? ps : -1;
        _lineage.Attach(s, parentSlot);
        _policy.OnInsert(s, key, parent);
    }
}
