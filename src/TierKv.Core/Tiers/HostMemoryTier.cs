using System.Diagnostics;
using TierKv.Eviction;
using TierKv.Keys;
using TierKv.Metrics;

namespace TierKv.Tiers;

/// <summary>
/// The host-DRAM tier: one pool of page-aligned native memory allocated once (registrable as pinned memory), cut into
/// fixed slots of one chunk. Index and policy changes happen under one short lock; payload copies happen outside it,
/// on slots that are either being written (invisible) or pinned by readers (never reclaimed). No GC allocation per
/// chunk on the synchronous paths.
/// </summary>
public sealed unsafe class HostMemoryTier : IKvTier, IEvictionCandidates, IMetricsAware
{
    private const byte Free = 0;
    private const byte Writing = 1;
    private const byte Ready = 2;
    private const byte Evicting = 3;

    private readonly HostMemoryTierOptions _options;
    private readonly object _lock = new();
    private readonly SlotIndex _index;
    private readonly EvictionPolicy _policy;
    private TierKvMetrics? _metrics;
    private TierCounters? _counters;
    private readonly byte* _pool;
    private readonly long _slotBytes;
    private readonly int _slots;

    private readonly ChunkKey[] _keys;
    private readonly KvLayout?[] _layouts;
    private readonly int[] _lengths;
    private readonly int[] _pins;
    private readonly byte[] _states;
    private readonly SlotLineage _lineage;
    private readonly ChunkKey[] _parentKey;
    private readonly bool[] _hasParent;
    private readonly int[] _freeStack;
    private readonly long[] _versions;
    private readonly bool[] _draining;
    private int _freeCount;
    private long _usedBytes;
    private int _disposed;

    /// <summary>Allocates the pool.</summary>
    public HostMemoryTier(HostMemoryTierOptions options, TierKvMetrics? metrics = null, IEvictionSink? evictionSink = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _slotBytes = options.AlignedSlotBytes;
        _slots = (int)(options.CapacityBytes / _slotBytes);
        _policy = EvictionPolicies.Create(options.EvictionPolicy, _slots);
        _keys = new ChunkKey[_slots];
        _index = new SlotIndex(_keys);
        _layouts = new KvLayout?[_slots];
        _lengths = new int[_slots];
        _pins = new int[_slots];
        _states = new byte[_slots];
        _lineage = new SlotLineage(_slots);
        _parentKey = new ChunkKey[_slots];
        _hasParent = new bool[_slots];
        _freeStack = new int[_slots];
        _versions = new long[_slots];
        _draining = new bool[_slots];
        for (int i = 0; i < _slots; i++)
        {
            _freeStack[i] = _slots - 1 - i;
        }

        _freeCount = _slots;
        PoolBytes = _slotBytes * _slots;
        _pool = (byte*)options.Allocator.Allocate((nuint)PoolBytes, HostMemoryTierOptions.PageSize);
        if (_pool == null)
        {
            throw new OutOfMemoryException($"Could not allocate the DRAM tier's pool of {PoolBytes} bytes ({options.Allocator.Description}).");
        }

        EvictionSink = evictionSink;
        if (metrics is not null)
        {
            AttachMetrics(metrics);
        }
    }

    /// <inheritdoc />
    public void AttachMetrics(TierKvMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (_metrics is not null)
        {
            return;
        }

        var counters = metrics.ForTier(_options.Name);
        counters.Usage = () => (CapacityBytes, UsedBytes, ChunkCount);
        _counters = counters;
        _metrics = metrics;
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    public TierKind Kind => TierKind.Dram;

    /// <inheritdoc />
    public long CapacityBytes => PoolBytes;

    /// <inheritdoc />
    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    /// <inheritdoc />
    public long ChunkCount => _index.Count;

    /// <inheritdoc />
    public bool HasLocalIndex => true;

    /// <summary>Number of slots.</summary>
    public int SlotCount => _slots;

    /// <summary>Bytes per slot (page-aligned).</summary>
    public long SlotBytes => _slotBytes;

    /// <summary>Base address of the pool (for pinned-memory registration).</summary>
    public nint PoolPointer => (nint)_pool;

    /// <summary>Bytes of the pool.</summary>
    public long PoolBytes { get; }

    /// <summary>The eviction policy in use.</summary>
    public string PolicyName => _policy.Name;

    /// <summary>Where evicted chunks go (write-back); may be set once before use.</summary>
    public IEvictionSink? EvictionSink { get; set; }

    /// <inheritdoc />
    public bool Contains(in ChunkKey key) => _index.Contains(key);

    /// <summary>Copies the chunk into <paramref name="destination"/>; false on a miss. Throws when the destination is too small.</summary>
    public bool TryRead(in ChunkKey key, Span<byte> destination)
    {
        if (!TryPin(key, out int slot))
        {
            return false;
        }

        try
        {
            int len = _lengths[slot];
            if (destination.Length < len)
            {
                throw new ArgumentException($"The destination holds {destination.Length} bytes but the chunk has {len}.", nameof(destination));
            }

            new ReadOnlySpan<byte>(_pool + (slot * _slotBytes), len).CopyTo(destination);
            return true;
        }
        finally
        {
            Unpin(slot);
        }
    }

    /// <summary>Pins a resident chunk for in-place reading; false on a miss.</summary>
    public bool TryAcquire(in ChunkKey key, out ChunkLease lease)
    {
        if (!TryPin(key, out int slot))
        {
            lease = default;
            return false;
        }

        lease = new ChunkLease(this, slot, (nint)(_pool + (slot * _slotBytes)), _lengths[slot], Volatile.Read(ref _versions[slot]));
        return true;
    }

    /// <summary>Stores a chunk. Throws when the payload is larger than a slot; nothing is stored then.</summary>
    public TierWriteStatus Write(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (payload.Length == 0 || payload.Length > _slotBytes)
        {
            throw new ArgumentException($"A chunk for the DRAM tier must have 1 to {_slotBytes} bytes; got {payload.Length}.", nameof(payload));
        }

        var reserved = ReserveSlot(key, replace: false, out int slot);
        if (reserved != TierWriteStatus.Stored)
        {
            return reserved;
        }

        payload.CopyTo(new Span<byte>(_pool + (slot * _slotBytes), payload.Length));
        return Publish(slot, layout, key, parent, payload.Length, 0);
    }

    /// <summary>
    /// Reserves a slot for a chunk of <paramref name="length"/> bytes that the caller fills in place (for example a
    /// socket receive straight into the pool), then publishes it with <see cref="CommitWrite"/> or gives it back with
    /// <see cref="AbortWrite"/>. The slot stays invisible to lookups until committed. Returns
    /// <see cref="TierWriteStatus.Stored"/> when a slot was reserved, else why not (nothing is reserved then). With
    /// <paramref name="replace"/>, a slot is reserved even when the key is held: the held copy stays visible until a
    /// newer version is committed over it (an aborted write leaves it untouched).
    /// </summary>
    public TierWriteStatus TryBeginWrite(in ChunkKey key, int length, out ChunkWriteReservation reservation, bool replace = false)
    {
        if (length <= 0 || length > _slotBytes)
        {
            throw new ArgumentException($"A chunk for the DRAM tier must have 1 to {_slotBytes} bytes; got {length}.", nameof(length));
        }

        var status = ReserveSlot(key, replace, out int slot);
        reservation = status == TierWriteStatus.Stored ? new ChunkWriteReservation(key, slot, (nint)(_pool + (slot * _slotBytes)), length) : default;
        return status;
    }

    /// <summary>
    /// Publishes a reserved slot filled by the caller; <see cref="TierWriteStatus.AlreadyPresent"/> when another writer
    /// won (the slot is freed). With <paramref name="version"/> above 0 the chunk replaces an older version of the key
    /// atomically (readers see the old bytes or the new, never a miss in between) and loses to an equal or newer one.
    /// </summary>
    public TierWriteStatus CommitWrite(KvLayout layout, in ChunkWriteReservation reservation, ChunkKey? parent, long version = 0)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!reservation.IsValid)
        {
            throw new ArgumentException("The reservation is empty.", nameof(reservation));
        }

        return Publish(reservation.Slot, layout, reservation.Key, parent, reservation.Length, version);
    }

    /// <summary>Gives a reserved slot back without publishing it (the caller could not fill it).</summary>
    public void AbortWrite(in ChunkWriteReservation reservation)
    {
        if (!reservation.IsValid)
        {
            return;
        }

        lock (_lock)
        {
            ReleaseLocked(reservation.Slot);
        }
    }

    /// <summary>
    /// A free slot, or the policy's victim. A victim is handed to the eviction sink while it is still visible (readers
    /// keep finding it until the tier below holds it), and leaves only afterwards; if readers pinned it meanwhile, the
    /// last of them frees it and another victim is taken.
    /// </summary>
    private TierWriteStatus ReserveSlot(in ChunkKey key, bool replace, out int slot)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        slot = -1;
        if (!replace && _index.Contains(key))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        while (true)
        {
            int victim;
            IEvictionSink? sink;
            KvLayout? victimLayout;
            lock (_lock)
            {
                if (!replace && _index.Contains(key))
                {
                    return TierWriteStatus.AlreadyPresent;
                }

                if (_freeCount > 0)
                {
                    slot = _freeStack[--_freeCount];
                    _states[slot] = Writing;
                    return TierWriteStatus.Stored;
                }

                victim = _policy.SelectVictim(key, this);
                if (victim < 0)
                {
                    if (_counters is not null)
                    {
                        _metrics!.RecordRejection(_counters, "all_pinned");
                    }

                    return TierWriteStatus.NoSpace;
                }

                sink = EvictionSink;
                victimLayout = _layouts[victim];
                if (sink is null || victimLayout is null)
                {
                    DetachLocked(victim, Writing);
                    slot = victim;
                }
                else
                {
                    _draining[victim] = true;
                }
            }

            if (_counters is not null)
            {
                _metrics!.RecordEviction(_counters);
            }

            if (slot >= 0)
            {
                return TierWriteStatus.Stored;
            }

            try
            {
                sink!.OnEvicting(victimLayout!, _keys[victim], _hasParent[victim] ? _parentKey[victim] : null, new ReadOnlySpan<byte>(_pool + (victim * _slotBytes), _lengths[victim]), _versions[victim]);
            }
            finally
            {
                lock (_lock)
                {
                    _draining[victim] = false;
                    if (_states[victim] == Ready)
                    {
                        DetachLocked(victim, Evicting);
                    }

                    // else removed or replaced during the hand-over: already detached.
                    if (_pins[victim] == 0)
                    {
                        _states[victim] = Writing;
                        slot = victim;
                    }

                    // else readers pinned it during the hand-over: the last one frees it.
                }
            }

            if (slot >= 0)
            {
                return TierWriteStatus.Stored;
            }
        }
    }

    private TierWriteStatus Publish(int slot, KvLayout layout, in ChunkKey key, ChunkKey? parent, int length, long version)
    {
        lock (_lock)
        {
            if (_index.TryGet(key, out int old))
            {
                if (version == 0 || _versions[old] >= version)
                {
                    // Another writer stored the same chunk (or a newer version) meanwhile: keep theirs.
                    ReleaseLocked(slot);
                    return TierWriteStatus.AlreadyPresent;
                }

                DetachForRemovalLocked(old);
            }

            _keys[slot] = key;
            _versions[slot] = version;
            _layouts[slot] = layout;
            _lengths[slot] = length;
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

            _states[slot] = Ready;
            _index.Add(key, slot);
            _policy.OnInsert(slot, key, parent);
            _usedBytes += length;
        }

        return TierWriteStatus.Stored;
    }

    /// <summary>Deletes a chunk. A chunk being read is deleted once its readers are done (it is invisible at once).</summary>
    public bool Remove(in ChunkKey key)
    {
        lock (_lock)
        {
            if (!_index.TryGet(key, out int slot))
            {
                return false;
            }

            DetachForRemovalLocked(slot);
            return true;
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default) => ValueTask.FromResult(Remove(key));

    /// <inheritdoc />
    public ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        var k = keys.Span;
        var p = present.Span;
        for (int i = 0; i < k.Length; i++)
        {
            p[i] = _index.Contains(k[i]);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(TryRead(key, destination.Span) ? TierReadStatus.Hit : TierReadStatus.Miss);

    /// <inheritdoc />
    public ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Write(layout, key, parent, payload.Span));

    /// <summary>The layout, parent and version a resident chunk was stored with (write-back of residents at shutdown); false on a miss.</summary>
    public bool TryDescribe(in ChunkKey key, out KvLayout? layout, out ChunkKey? parent, out long version)
    {
        lock (_lock)
        {
            if (_index.TryGet(key, out int slot) && _layouts[slot] is { } l)
            {
                layout = l;
                parent = _hasParent[slot] ? _parentKey[slot] : null;
                version = _versions[slot];
                return true;
            }
        }

        layout = null;
        parent = null;
        version = 0;
        return false;
    }

    /// <summary>The version of the resident copy of <paramref name="key"/>; false on a miss.</summary>
    public bool TryGetVersion(in ChunkKey key, out long version)
    {
        lock (_lock)
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

    /// <summary>Snapshot of resident keys (for tests and diagnostics; allocates).</summary>
    public ChunkKey[] ResidentKeys()
    {
        lock (_lock)
        {
            return _index.SnapshotKeys();
        }
    }

    bool IEvictionCandidates.CanEvict(int slot) => _states[slot] == Ready && Volatile.Read(ref _pins[slot]) == 0 && !_draining[slot];

    bool IEvictionCandidates.IsLeaf(int slot) => _lineage.IsLeaf(slot);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_lock)
        {
            _index.Clear();
        }

        _options.Allocator.Free((nint)_pool, (nuint)PoolBytes);
    }

    internal void Unpin(int slot)
    {
        if (Interlocked.Decrement(ref _pins[slot]) == 0 && Volatile.Read(ref _states[slot]) == Evicting)
        {
            lock (_lock)
            {
                if (_states[slot] == Evicting && _pins[slot] == 0 && !_draining[slot])
                {
                    ReleaseLocked(slot);
                }
            }
        }
    }

    private bool TryPin(in ChunkKey key, out int slot)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        lock (_lock)
        {
            if (!_index.TryGet(key, out slot))
            {
                return false;
            }

            Debug.Assert(_states[slot] == Ready, "indexed slots are ready");
            _pins[slot]++;
            _policy.OnHit(slot);
            return true;
        }
    }

    /// <summary>Makes a resident slot invisible: out of the index and the policy, links to its parent dropped.</summary>
    private void DetachLocked(int slot, byte newState)
    {
        bool indexed = _index.RemoveSlot(slot);
        Debug.Assert(indexed, "only published slots are detached");
        _policy.OnRemove(slot);
        _lineage.Detach(slot);
        _usedBytes -= _lengths[slot];
        _states[slot] = newState;
    }

    /// <summary>Removes a resident slot (delete, or replaced by a newer version): freed now, or by its last reader, or by the eviction hand-over in progress.</summary>
    private void DetachForRemovalLocked(int slot)
    {
        DetachLocked(slot, Evicting);
        if (_pins[slot] == 0 && !_draining[slot])
        {
            ReleaseLocked(slot);
        }
    }

    private void ReleaseLocked(int slot)
    {
        _states[slot] = Free;
        _layouts[slot] = null;
        _lineage.Retire(slot);
        _freeStack[_freeCount++] = slot;
    }
}
