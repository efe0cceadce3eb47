using TierKv.Eviction;
using TierKv.Keys;

namespace TierKv.Core.Tests.Eviction;

/// <summary>
/// A minimal tier around a policy, for property tests: slots, a key index, pins, and parent links (keys are
/// (chain, depth) pairs whose parent is (chain, depth - 1)), with the same calls HostMemoryTier makes.
/// </summary>
internal sealed class PolicyHarness : IEvictionCandidates
{
    private readonly Dictionary<int, int> _slotOfKey = [];
    private readonly int[] _keyOfSlot;
    private readonly bool[] _pinned;
    private readonly Stack<int> _free = new();

    public PolicyHarness(EvictionPolicy policy)
    {
        Policy = policy;
        _keyOfSlot = new int[policy.Capacity];
        _pinned = new bool[policy.Capacity];
        for (int i = policy.Capacity - 1; i >= 0; i--)
        {
            _free.Push(i);
        }
    }

    public EvictionPolicy Policy { get; }

    public int Count => _slotOfKey.Count;

    public IReadOnlyCollection<int> Resident => _slotOfKey.Keys;

    /// <summary>Key number of (chain, depth).</summary>
    public static int Key(int chain, int depth) => (chain * 1000) + depth;

    public static ChunkKey ChunkKeyOf(int key) => new((UInt128)(uint)key * 0x9E3779B97F4A7C15UL);

    public bool IsResident(int key) => _slotOfKey.ContainsKey(key);

    public int SlotOf(int key) => _slotOfKey[key];

    public int KeyOfSlot(int slot) => _keyOfSlot[slot];

    public void SetPinned(int key, bool pinned) => _pinned[_slotOfKey[key]] = pinned;

    /// <summary>Accesses a key: a hit, or an insert (evicting the policy's victim). Returns the evicted key, or -1.</summary>
    public int Access(int key, out bool rejected)
    {
        rejected = false;
        if (_slotOfKey.TryGetValue(key, out int s))
        {
            Policy.OnHit(s);
            return -1;
        }

        int evicted = -1;
        if (_free.Count > 0 && Count < Policy.Limit)
        {
            s = _free.Pop();
        }
        else
        {
            s = Policy.SelectVictim(ChunkKeyOf(key), this);
            if (s < 0)
            {
                rejected = true;
                return -1;
            }

            evicted = Evict(s);
        }

        _keyOfSlot[s] = key;
        _pinned[s] = false;
        _slotOfKey[key] = s;
        // Keys are (chain, depth): the parent of depth d is depth d - 1 of the same chain, as a tier would say.
        Policy.OnInsert(s, ChunkKeyOf(key), key % 1000 > 0 ? ChunkKeyOf(key - 1) : null);
        return evicted;
    }

    /// <summary>
    /// One operation of the property tests on <paramref name="key"/>: 7 pins and 8 unpins it (when resident), 9 deletes
    /// it, anything else accesses it, checking that a tier at its limit rejects an insert exactly when every resident
    /// chunk is pinned (and, in <see cref="Access"/>, that no pinned or empty slot is chosen).
    /// </summary>
    public void Apply(int kind, int key)
    {
        switch (kind)
        {
            case 7 when IsResident(key):
                SetPinned(key, true);
                break;
            case 8 when IsResident(key):
                SetPinned(key, false);
                break;
            case 9:
                Delete(key);
                break;
            default:
                bool allPinned = Count >= Policy.Limit && AllPinned();
                bool wasResident = IsResident(key);
                Access(key, out bool rejected);
                if (rejected != (!wasResident && allPinned))
                {
                    throw new InvalidOperationException($"policy {Policy.Name}: insert rejected {rejected}, but every resident chunk pinned at the limit {allPinned}");
                }

                break;
        }
    }

    /// <summary>
    /// Lowers or raises the limit as <c>HostMemoryTier.SetSlotLimit</c> and <c>TrimToLimit</c> do: the policy is resized,
    /// then its trim victims go until the limit is met or none is evictable. Returns the keys evicted.
    /// </summary>
    public List<int> Resize(int limit)
    {
        Policy.Resize(limit);
        var evicted = new List<int>();
        while (Count > limit)
        {
            int s = Policy.SelectTrimVictim(this);
            if (s < 0)
            {
                break;
            }

            evicted.Add(Evict(s));
            _free.Push(s);
        }

        return evicted;
    }

    /// <summary>Deletes a key (as Remove on a tier does).</summary>
    public void Delete(int key)
    {
        if (_slotOfKey.Remove(key, out int s))
        {
            Policy.OnRemove(s);
            _pinned[s] = false;
            _free.Push(s);
        }
    }

    public bool CanEvict(int slot) => !_pinned[slot];

    /// <summary>Takes the policy's victim out (checked: resident and not pinned) and tells the policy; returns its key.</summary>
    private int Evict(int s)
    {
        int evicted = _keyOfSlot[s];
        if (_pinned[s])
        {
            throw new InvalidOperationException($"policy {Policy.Name} chose pinned slot {s}");
        }

        if (!_slotOfKey.Remove(evicted))
        {
            throw new InvalidOperationException($"policy {Policy.Name} chose a slot that holds nothing");
        }

        Policy.OnRemove(s);
        return evicted;
    }

    public bool IsLeaf(int slot)
    {
        int key = _keyOfSlot[slot];
        return !_slotOfKey.ContainsKey(key + 1);
    }

    /// <summary>True when some resident, unpinned key has no resident child.</summary>
    public bool AnyEvictableLeaf()
    {
        foreach (var (key, slot) in _slotOfKey)
        {
            if (!_pinned[slot] && !_slotOfKey.ContainsKey(key + 1))
            {
                return true;
            }
        }

        return false;
    }

    public bool AllPinned()
    {
        foreach (var slot in _slotOfKey.Values)
        {
            if (!_pinned[slot])
            {
                return false;
            }
        }

        return true;
    }
}
