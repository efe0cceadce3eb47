using System.Runtime.CompilerServices;
using TierKv.Curves;
using TierKv.Eviction;

namespace TierKv.Tiers.Slots;

/// <summary>
/// The slot bookkeeping under a local tier (DRAM and SSD): which key each slot holds, at which version and length, its
/// state (<see cref="SlotState"/>), pins, parent links for prefix-aware eviction, the free stack, the eviction policy and
/// the bytes in use. Each tier keeps only its medium (the DRAM pool; the SSD's files and I/O) and calls this one table.
/// </summary>
/// <remarks>
/// Concurrency: lookups (<see cref="Contains"/>) read the index without a lock. Everything else that changes a slot
/// happens under <see cref="Lock"/> (methods named <c>…Locked</c> expect the caller to hold it); payload bytes move
/// outside it, on slots that are either being written (invisible) or pinned. <see cref="Unpin"/> is lock-free unless the
/// slot was detached and this was its last reader.
/// </remarks>
public sealed partial class SlotTable : IEvictionCandidates
{
    private readonly SlotIndex _index;
    private readonly EvictionPolicy _policy;
    private readonly ChunkKey[] _keys;
    private readonly int[] _lengths;
    private readonly long[] _versions;
    private readonly int[] _pins;
    private readonly SlotState[] _states;
    private readonly bool[] _draining;
    private readonly SlotLineage _lineage;
    private readonly ChunkKey[] _parentKey;
    private readonly bool[] _hasParent;
    private readonly int[] _freeStack;
    private int _freeCount;
    private int _copiesOnMedium;
    private int _staged;
    private long _usedBytes;

    /// <summary>A table of <paramref name="slots"/> slots, all free unless <paramref name="startEmpty"/> (recovery pushes the free ones itself).</summary>
    public SlotTable(int slots, string evictionPolicy, bool startEmpty = false)
    {
        Slots = slots;
        _policy = EvictionPolicies.Create(evictionPolicy, slots);
        _keys = new ChunkKey[slots];
        _index = new SlotIndex(_keys);
        _lengths = new int[slots];
        _versions = new long[slots];
        _pins = new int[slots];
        _states = new SlotState[slots];
        _draining = new bool[slots];
        _lineage = new SlotLineage(slots);
        _parentKey = new ChunkKey[slots];
        _hasParent = new bool[slots];
        _freeStack = new int[slots];
        _priority = new byte[slots];
        _pinnedUntil = new long[slots];
        if (!startEmpty)
        {
            for (int i = 0; i < slots; i++)
            {
                _freeStack[i] = slots - 1 - i;
            }

            _freeCount = slots;
        }
    }

    /// <summary>The lock every <c>…Locked</c> method expects the caller to hold.</summary>
    public object Lock { get; } = new();

    /// <summary>Number of slots.</summary>
    public int Slots { get; }

    /// <summary>The live miss-ratio curve fed with every hit and insert (null: none); set before use.</summary>
    public MissRatioCurveEstimator? Curves { get; set; }

    /// <summary>The eviction policy's name.</summary>
    public string PolicyName => _policy.Name;

    /// <summary>Published chunks (ready or staged).</summary>
    public long ChunkCount => _index.Count;

    /// <summary>Payload bytes of published chunks.</summary>
    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    /// <summary>Free slots now.</summary>
    public int FreeCount => Volatile.Read(ref _freeCount);

    /// <summary>Published chunks whose write to the medium is still in flight.</summary>
    public int StagedCount => Volatile.Read(ref _staged);

    /// <summary>Slots whose copy is still on the medium though out of the index (held, superseded, retiring, erasing).</summary>
    public int CopiesOnMedium => _copiesOnMedium;

    /// <summary>Whether <paramref name="key"/> is published; lock-free.</summary>
    public bool Contains(in ChunkKey key) => _index.Contains(key);

    /// <summary>Whether each of <paramref name="keys"/> is published, into <paramref name="present"/>; lock-free.</summary>
    public void ContainsEach(ReadOnlySpan<ChunkKey> keys, Span<bool> present)
    {
        for (int i = 0; i < keys.Length; i++)
        {
            present[i] = _index.Contains(keys[i]);
        }
    }

    /// <summary>The slot holding <paramref name="key"/>; under the lock.</summary>
    public bool TryGetLocked(in ChunkKey key, out int slot) => _index.TryGet(key, out slot);

    /// <summary>The version of the published copy of <paramref name="key"/>.</summary>
    public bool TryGetVersion(in ChunkKey key, out long version)
    {
        lock (Lock)
        {
            if (_index.TryGet(key, out int slot))
            {
                version = _versions[slot];
                return true;
            }
        }

        version = 0;
        return false;
    }

    /// <summary>The state of <paramref name="slot"/> (a racy read outside the lock).</summary>
    public SlotState StateOf(int slot) => _states[slot];

    /// <summary>The key a slot holds or held.</summary>
    public ChunkKey KeyOf(int slot) => _keys[slot];

    /// <summary>The payload length of a slot.</summary>
    public int LengthOf(int slot) => _lengths[slot];

    /// <summary>The version of a slot's chunk.</summary>
    public long VersionOf(int slot) => Volatile.Read(ref _versions[slot]);

    /// <summary>The parent key a slot's chunk was stored with.</summary>
    public ChunkKey? ParentOf(int slot) => _hasParent[slot] ? _parentKey[slot] : null;

    /// <summary>Moves a slot to <paramref name="state"/>, keeping the count of copies left on the medium.</summary>
    public void SetStateLocked(int slot, SlotState state)
    {
        var old = _states[slot];
        _copiesOnMedium += (OnMedium(state) ? 1 : 0) - (OnMedium(old) ? 1 : 0);
        _staged += (state == SlotState.Staged ? 1 : 0) - (old == SlotState.Staged ? 1 : 0);
        _states[slot] = state;
    }

    /// <summary>Pops a free slot and marks it writing; false when none is free.</summary>
    public bool TryTakeFreeLocked(out int slot)
    {
        if (_freeCount == 0)
        {
            slot = -1;
            return false;
        }

        slot = _freeStack[--_freeCount];
        SetStateLocked(slot, SlotState.Writing);
        return true;
    }

    /// <summary>
    /// The policy's victim among ready, unpinned slots not being handed down, of the lowest priority that has one
    /// (<see cref="ChunkPriorities"/>); -1 when there is none.
    /// </summary>
    /// <remarks>With <paramref name="trimming"/> the victim only brings the table down to a lowered limit: no chunk comes in.</remarks>
    public int SelectVictimLocked(in ChunkKey incoming, bool trimming = false) =>
        _elevated != 0 ? SelectByPriorityLocked(incoming, trimming) : trimming ? _policy.SelectTrimVictim(this) : _policy.SelectVictim(incoming, this);

    /// <summary>Tells the policy the tier's slot limit (<see cref="EvictionPolicy.Resize"/>).</summary>
    public void ResizePolicyLocked(int limit) => _policy.Resize(limit);

    /// <summary>Makes a filled slot visible under <paramref name="key"/> (<see cref="SlotState.Ready"/> or <see cref="SlotState.Staged"/>).</summary>
    public void PublishLocked(int slot, in ChunkKey key, int length, ChunkKey? parent, long version, SlotState state)
    {
        Debug.Assert(state is SlotState.Ready or SlotState.Staged, "only ready or staged slots are published");
        _keys[slot] = key;
        _lengths[slot] = length;
        Volatile.Write(ref _versions[slot], version);
        _hasParent[slot] = parent.HasValue;
        int parentSlot = -1;
        if (parent is { } p)
        {
            _parentKey[slot] = p;
            if (_index.TryGet(p, out int ps))
            {
                parentSlot = ps;
            }
        }

        _lineage.Attach(slot, parentSlot);
        SetStateLocked(slot, state);
        _index.Add(key, slot);
        _policy.OnInsert(slot, key, parent);
        Curves?.Observe(key, parent);
        _usedBytes += length;
        ApplyPriorityLocked(slot, key, entering: true);
    }

    /// <summary>Takes a published slot out of the index and the policy; it moves to <paramref name="state"/>.</summary>
    public void DetachLocked(int slot, SlotState state = SlotState.Detached)
    {
        bool indexed = _index.RemoveSlot(slot);
        Debug.Assert(indexed, "only published slots are detached");
        _policy.OnRemove(slot);
        _lineage.Detach(slot);
        _usedBytes -= _lengths[slot];
        LeavePriorityLocked(slot);
        SetStateLocked(slot, state);
    }

    /// <summary>Puts a slot back on the free stack.</summary>
    public void ReleaseLocked(int slot)
    {
        SetStateLocked(slot, SlotState.Free);
        _lineage.Retire(slot);
        _freeStack[_freeCount++] = slot;
    }

    /// <summary>Pins the published slot of <paramref name="key"/> for reading (a hit for the policy).</summary>
    public bool TryPinLocked(in ChunkKey key, out int slot)
    {
        if (!_index.TryGet(key, out slot))
        {
            return false;
        }

        _pins[slot]++;
        _policy.OnHit(slot);
        Curves?.Observe(key, ParentOf(slot));
        return true;
    }

    /// <summary>Whether readers hold <paramref name="slot"/>.</summary>
    /// <remarks>
    /// Readers unpin without the lock (decrement, then read the state): the full fence here orders the caller's state
    /// change before this read, so either this sees the last reader gone or that reader sees the new state.
    /// </remarks>
    public bool IsPinnedLocked(int slot)
    {
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _pins[slot]) != 0;
    }

    /// <summary>
    /// Drops one pin; lock-free unless the slot was detached or is retiring and this was its last reader: then
    /// <paramref name="lastReader"/> runs under the lock to finish it (free it, or erase its copy first).
    /// </summary>
    public void Unpin(int slot, Action<int> lastReader)
    {
        if (Interlocked.Decrement(ref _pins[slot]) != 0 || (SlotState)Volatile.Read(ref Unsafe.As<SlotState, byte>(ref _states[slot])) is not (SlotState.Detached or SlotState.Retiring))
        {
            return;
        }

        lock (Lock)
        {
            if (_pins[slot] == 0 && !_draining[slot] && _states[slot] is SlotState.Detached or SlotState.Retiring)
            {
                lastReader(slot);
            }
        }
    }

    /// <summary>Marks a victim as being handed to the tier below: still visible and readable, never chosen again meanwhile.</summary>
    public void BeginDrainLocked(int slot) => _draining[slot] = true;

    /// <summary>The hand-over is done.</summary>
    public void EndDrainLocked(int slot) => _draining[slot] = false;

    /// <summary>Whether a slot is free to be finished (no readers, no hand-over in progress).</summary>
    public bool IsIdleLocked(int slot) => !IsPinnedLocked(slot) && !_draining[slot];

    /// <summary>Pushes a slot found free at open (recovery).</summary>
    public void PushFreeLocked(int slot) => _freeStack[_freeCount++] = slot;

    /// <summary>Whether any copy of <paramref name="key"/> is still on the medium though out of the index.</summary>
    public bool HasCopyOnMediumLocked(in ChunkKey key)
    {
        if (_copiesOnMedium == 0)
        {
            return false;
        }

        for (int s = 0; s < Slots; s++)
        {
            if (OnMedium(_states[s]) && _keys[s] == key)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Snapshot of published keys (for tests and diagnostics; allocates).</summary>
    public ChunkKey[] ResidentKeys()
    {
        lock (Lock)
        {
            return _index.SnapshotKeys();
        }
    }

    /// <summary>Forgets every published key (the tier is closing).</summary>
    public void ClearLocked() => _index.Clear();

    bool IEvictionCandidates.CanEvict(int slot) =>
        _states[slot] == SlotState.Ready && Volatile.Read(ref _pins[slot]) == 0 && !_draining[slot] && _priority[slot] <= _floor && _pinnedUntil[slot] <= _nowMs;

    bool IEvictionCandidates.IsLeaf(int slot) => _lineage.IsLeaf(slot);

    private static bool OnMedium(SlotState s) => s is SlotState.Held or SlotState.Superseded or SlotState.Retiring or SlotState.Erasing;
}
