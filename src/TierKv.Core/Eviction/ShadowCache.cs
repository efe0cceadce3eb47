using System.Numerics;
using TierKv.Tiers.Slots;

namespace TierKv.Eviction;

/// <summary>
/// A key-only simulation of one eviction policy at a tier's capacity (holding at most the tier's slot limit of keys):
/// the policy runs on virtual slots of its own, an open-addressing table (linear probing, backward-shift deletion, keys held in the table) maps a key to its virtual slot, and each entry
/// remembers the tier's real slot for the key while the tier holds it. <see cref="LeaderPolicy"/> runs one per expert
/// and learns from each whether that expert would have hit, and which of the tier's chunks it would not keep.
/// Everything is allocated once.
/// </summary>
internal sealed class ShadowCache : IEvictionCandidates
{
    private readonly EvictionPolicy _policy;
    private readonly ChunkKey[] _keyOf;
    private readonly int[] _realSlot;
    private readonly Entry[] _table;
    private readonly int _mask;
    private readonly int[] _free;
    private readonly SlotLineage _lineage;
    private int _freeCount;
    private int _pendingSlot = -1;

    /// <param name="policy">The expert (a fresh instance with the tier's capacity).</param>
    public ShadowCache(EvictionPolicy policy)
    {
        _policy = policy;
        int c = policy.Capacity;
        // The expert's own parent links (as a tier keeps them), so a prefix-aware expert sees its own leaves.
        _lineage = new SlotLineage(c);
        _keyOf = new ChunkKey[c];
        _realSlot = new int[c];
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, c * 2));
        _table = new Entry[size];
        _table.AsSpan().Fill(new Entry { Slot = -1 });
        _mask = size - 1;
        _free = new int[c];
        for (int i = 0; i < c; i++)
        {
            _free[i] = c - 1 - i;
        }

        _freeCount = c;
    }

    public EvictionPolicy Policy => _policy;

    /// <summary>Keys held (at most the policy's <see cref="EvictionPolicy.Limit"/>, the tier's slot limit).</summary>
    public int Count => _policy.Capacity - _freeCount;

    /// <summary>
    /// The tier's slot limit changed: the expert is resized to it (<see cref="EvictionPolicy.Resize"/>) and, when it
    /// holds more keys than the new limit, gives up its own victims through <see cref="TryShrink"/>.
    /// </summary>
    public void Resize(int limit) => _policy.Resize(limit);

    /// <summary>
    /// Evicts one of the expert's victims while it holds more keys than its limit; <paramref name="evictedReal"/> is the
    /// tier's slot of the evicted key when the tier holds it, else -1. False when the expert is within its limit.
    /// </summary>
    public bool TryShrink(out int evictedReal)
    {
        evictedReal = -1;
        if (Count <= _policy.Limit)
        {
            return false;
        }

        int v = _policy.SelectTrimVictim(this);
        if (v < 0)
        {
            return false;
        }

        evictedReal = _realSlot[v];
        Evict(v);
        _free[_freeCount++] = v;
        return true;
    }

    /// <summary>
    /// Accesses <paramref name="key"/> as the tier does (a hit, or an insert that may evict). Returns whether the expert
    /// held the key; <paramref name="evictedReal"/> is the tier's slot of the key the expert evicted when the tier holds
    /// that key, else -1. The expert learns the chunk's parent (<paramref name="hasParent"/>, <paramref name="parent"/>)
    /// on insert; with <paramref name="parentLater"/> the insert waits for <see cref="CompleteInsert"/> (the tier asks for
    /// a victim before it says the parent), so a parent-aware expert (<c>lc</c>) sees exactly what it would see in a tier.
    /// </summary>
    public bool Access(in ChunkKey key, int realSlot, bool hasParent, in ChunkKey parent, bool parentLater, out int evictedReal, out int virtualSlot)
    {
        CompletePending();
        evictedReal = -1;
        int v = Find(key);
        virtualSlot = v;
        if (v >= 0)
        {
            _realSlot[v] = realSlot;
            _policy.OnHit(v);
            return true;
        }

        if (_freeCount > 0 && Count < _policy.Limit)
        {
            v = _free[--_freeCount];
        }
        else
        {
            v = _policy.SelectVictim(key, this);
            if (v < 0)
            {
                return false;
            }

            evictedReal = _realSlot[v];
            Evict(v);
        }

        _keyOf[v] = key;
        _realSlot[v] = realSlot;
        Link(v);
        virtualSlot = v;
        if (parentLater)
        {
            _pendingSlot = v;
        }
        else
        {
            Insert(v, hasParent, parent);
        }

        return false;
    }

    /// <summary>The insert that <see cref="Access"/> deferred happens now, with the chunk's parent.</summary>
    public void CompleteInsert(bool hasParent, in ChunkKey parent)
    {
        int v = _pendingSlot;
        if (v < 0)
        {
            return;
        }

        _pendingSlot = -1;
        Insert(v, hasParent, parent);
    }

    private void Evict(int v)
    {
        _policy.OnRemove(v);
        _lineage.Detach(v);
        _lineage.Retire(v);
        Unlink(v);
    }

    private void Insert(int v, bool hasParent, in ChunkKey parent)
    {
        _lineage.Attach(v, hasParent ? Find(parent) : -1);
        if (hasParent)
        {
            _policy.OnInsert(v, _keyOf[v], parent);
        }
        else
        {
            _policy.OnInsert(v, _keyOf[v], null);
        }
    }

    /// <summary>A deferred insert whose parent never came (the tier did not insert after all): the expert takes it without one.</summary>
    private void CompletePending()
    {
        if (_pendingSlot >= 0)
        {
            CompleteInsert(false, default);
        }
    }

    /// <summary>
    /// The tier now holds <paramref name="key"/> in <paramref name="realSlot"/>; <paramref name="virtualSlot"/> is where
    /// <see cref="Access"/> put it (checked, looked up again if the expert has moved on since).
    /// </summary>
    public void SetRealSlot(in ChunkKey key, int virtualSlot, int realSlot)
    {
        if (virtualSlot >= 0 && _keyOf[virtualSlot] == key)
        {
            _realSlot[virtualSlot] = realSlot;
            return;
        }

        SetRealSlot(key, realSlot);
    }

    /// <summary>The tier now holds <paramref name="key"/> in <paramref name="realSlot"/> (-1: no longer).</summary>
    public void SetRealSlot(in ChunkKey key, int realSlot)
    {
        int v = Find(key);
        if (v >= 0)
        {
            _realSlot[v] = realSlot;
        }
    }

    /// <summary>Demotes <paramref name="key"/> in a credit expert (a request tail); nothing for other experts.</summary>
    public void Demote(in ChunkKey key, double ranks)
    {
        CompletePending();
        if (_policy is CreditExpert credit && Find(key) is int v and >= 0)
        {
            credit.Demote(v, ranks);
        }
    }

    bool IEvictionCandidates.CanEvict(int slot) => true;

    bool IEvictionCandidates.IsLeaf(int slot) => _lineage.IsLeaf(slot);

    private int Bucket(ulong low, ulong high)
    {
        // Keys are hashes already, but synthetic keys (small integers) are not: mix before masking.
        ulong h = (low ^ (high * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;
        return (int)(h >> 32) & _mask;
    }

    private int Find(in ChunkKey key)
    {
        // Keys sit in the table itself, so a probe costs one cache line, not one per entry looked at.
        ulong lo = key.Low, hi = key.High;
        int i = Bucket(lo, hi);
        while (true)
        {
            ref Entry e = ref _table[i];
            if (e.Slot < 0)
            {
                return -1;
            }

            if (e.Low == lo && e.High == hi)
            {
                return e.Slot;
            }

            i = (i + 1) & _mask;
        }
    }

    private void Link(int v)
    {
        ulong lo = _keyOf[v].Low, hi = _keyOf[v].High;
        int i = Bucket(lo, hi);
        while (_table[i].Slot >= 0)
        {
            i = (i + 1) & _mask;
        }

        _table[i] = new Entry { Low = lo, High = hi, Slot = v };
    }

    private void Unlink(int v)
    {
        int i = Bucket(_keyOf[v].Low, _keyOf[v].High);
        while (_table[i].Slot != v)
        {
            i = (i + 1) & _mask;
        }

        int j = i;
        while (true)
        {
            j = (j + 1) & _mask;
            ref Entry ej = ref _table[j];
            if (ej.Slot < 0)
            {
                break;
            }

            int home = Bucket(ej.Low, ej.High);
            // Move ej into the hole when its home lies cyclically outside (i, j].
            bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between)
            {
                _table[i] = ej;
                i = j;
            }
        }

        _table[i].Slot = -1;
    }

    private struct Entry
    {
        public ulong Low;
        public ulong High;
        public int Slot;
    }
}
