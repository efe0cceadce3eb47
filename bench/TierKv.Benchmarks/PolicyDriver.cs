using TierKv.Eviction;
using TierKv.Keys;

namespace TierKv.Benchmarks;

/// <summary>
/// The smallest tier that drives an <see cref="EvictionPolicy"/> the way <c>HostMemoryTier</c> does (hit: OnHit;
/// miss: a free slot or SelectVictim + OnRemove, then OnInsert), over integer keys in <c>[0, universe)</c> with flat
/// arrays, so a measured access costs the policy and two array loads, and allocates nothing of its own. Like the
/// tests' <c>PolicyHarness</c> but allocation-free; keys are independent (no parent chunk), nothing is pinned.
/// </summary>
internal sealed class PolicyDriver : IEvictionCandidates
{
    private readonly int[] _slotOfKey;
    private readonly int[] _keyOfSlot;
    private readonly ChunkKey[] _chunkKeys;
    private readonly int[] _free;
    private int _freeCount;

    public PolicyDriver(EvictionPolicy policy, int universe)
    {
        Policy = policy;
        _slotOfKey = new int[universe];
        Array.Fill(_slotOfKey, -1);
        _chunkKeys = new ChunkKey[universe];
        for (int k = 0; k < universe; k++)
        {
            _chunkKeys[k] = new ChunkKey((UInt128)(uint)(k + 1) * 0x9E3779B97F4A7C15UL);
        }

        _keyOfSlot = new int[policy.Capacity];
        _free = new int[policy.Capacity];
        for (int i = 0; i < _free.Length; i++)
        {
            _free[i] = _free.Length - 1 - i;
        }

        _freeCount = _free.Length;
    }

    public EvictionPolicy Policy { get; }

    public long Hits { get; private set; }

    public long Misses { get; private set; }

    public int Resident => Policy.Capacity - _freeCount;

    /// <summary>Accesses <paramref name="key"/>; returns true on a hit.</summary>
    public bool Access(int key)
    {
        int s = _slotOfKey[key];
        if (s >= 0)
        {
            Policy.OnHit(s);
            Hits++;
            return true;
        }

        Misses++;
        if (_freeCount > 0)
        {
            s = _free[--_freeCount];
        }
        else
        {
            s = Policy.SelectVictim(_chunkKeys[key], this);
            if (s < 0)
            {
                throw new InvalidOperationException($"Policy {Policy.Name} found no victim although nothing is pinned.");
            }

            int evicted = _keyOfSlot[s];
            if (_slotOfKey[evicted] != s)
            {
                throw new InvalidOperationException($"Policy {Policy.Name} chose slot {s}, which holds nothing.");
            }

            _slotOfKey[evicted] = -1;
            Policy.OnRemove(s);
        }

        _keyOfSlot[s] = key;
        _slotOfKey[key] = s;
        Policy.OnInsert(s, _chunkKeys[key], null);
        return false;
    }

    public bool CanEvict(int slot) => true;

    public bool IsLeaf(int slot) => true;
}
