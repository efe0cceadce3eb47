using TierKv.Curves;
using TierKv.Tiers.Slots;

namespace TierKv.Tiers;

/// <summary>
/// The host-DRAM tier: one pool of page-aligned native memory allocated once (registrable as pinned memory), cut into
/// fixed slots of one chunk. Index and policy changes happen under one short lock; payload copies happen outside it,
/// on slots that are either being written (invisible) or pinned by readers (never reclaimed). No GC allocation per
/// chunk on the synchronous paths.
/// </summary>
public sealed unsafe partial class HostMemoryTier : IKvTier, IMetricsAware, IPriorityAware
{
    private readonly HostMemoryTierOptions _options;
    private readonly SlotTable _table;
    private readonly Action<int> _free;
    private TierKvMetrics? _metrics;
    private TierCounters? _counters;
    private readonly byte* _pool;
    private readonly long _slotBytes;
    private readonly int _slots;
    private readonly KvLayout?[] _layouts;
    private int _disposed;

    /// <summary>Allocates the pool.</summary>
    public HostMemoryTier(HostMemoryTierOptions options, TierKvMetrics? metrics = null, IEvictionSink? evictionSink = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _slotBytes = options.AlignedSlotBytes;
        _slots = (int)(options.CapacityBytes / _slotBytes);
        _slotLimit = _slots;
        _table = new SlotTable(_slots, options.EvictionPolicy);
        _free = FreeLocked;
        _layouts = new KvLayout?[_slots];
        PoolBytes = _slotBytes * _slots;
        _pool = (byte*)options.Allocator.Allocate((nuint)PoolBytes, HostMemoryTierOptions.PageSize);
        if (_pool == null)
        {
            throw new OutOfMemoryException($"Could not allocate the DRAM tier's pool of {PoolBytes} bytes ({options.Allocator.Description}).");
        }

        // Last: its background thread is stopped by Dispose, which a constructor that throws never reaches.
        if (options.Curves is { } curves)
        {
            _table.Curves = new MissRatioCurveEstimator(curves, _slots, _table.PolicyName);
        }

        EvictionSink = evictionSink;
        if (metrics is not null)
        {
            AttachMetrics(metrics);
        }
    }

    /// <inheritdoc />
    public void AttachPriorities(ChunkPriorities priorities) => _table.AttachPriorities(priorities);

    /// <summary>The priorities and pins this tier obeys (null until a store attaches them).</summary>
    public ChunkPriorities? Priorities => _table.Priorities;

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
        counters.Curves = Curves;
        _counters = counters;
        _metrics = metrics;
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    public TierKind Kind => TierKind.Dram;

    /// <summary>The bytes the tier may hold now: its slot limit (<see cref="SlotLimit"/>, the whole pool unless lowered) in slots.</summary>
    public long CapacityBytes => SlotLimit * _slotBytes;

    /// <inheritdoc />
    public long UsedBytes => _table.UsedBytes;

    /// <inheritdoc />
    public long ChunkCount => _table.ChunkCount;

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

    /// <summary>The live miss-ratio curve estimator (<see cref="HostMemoryTierOptions.Curves"/>), or null.</summary>
    public MissRatioCurveEstimator? Curves => _table.Curves;

    /// <summary>The eviction policy in use.</summary>
    public string PolicyName => _table.PolicyName;

    /// <summary>Where evicted chunks go (write-back); may be set once before use.</summary>
    public IEvictionSink? EvictionSink { get; set; }

    /// <inheritdoc />
    public bool Contains(in ChunkKey key) => _table.Contains(key);

    /// <summary>Copies the chunk into <paramref name="destination"/>; false on a miss. Throws when the destination is too small.</summary>
    public bool TryRead(in ChunkKey key, Span<byte> destination)
    {
        if (!TryPin(key, out int slot))
        {
            return false;
        }

        try
        {
            int len = _table.LengthOf(slot);
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

        lease = new ChunkLease(this, slot, (nint)(_pool + (slot * _slotBytes)), _table.LengthOf(slot), _table.VersionOf(slot));
        return true;
    }

    /// <summary>Stores a chunk. Throws when the payload is larger than a slot; nothing is stored then.</summary>
    public TierWriteStatus Write(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload)
    {
        bool noRoom = false;
        return Write(layout, key, parent, payload, ref noRoom);
    }

    /// <summary>
    /// Stores a chunk; <paramref name="roomHeld"/> is room in the tier below that the caller reserved for whatever this
    /// write evicts, handed to the eviction sink (which clears it when it spends it).
    /// </summary>
    public TierWriteStatus Write(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, ref bool roomHeld)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (payload.Length == 0 || payload.Length > _slotBytes)
        {
            throw new ArgumentException($"A chunk for the DRAM tier must have 1 to {_slotBytes} bytes; got {payload.Length}.", nameof(payload));
        }

        var reserved = ReserveSlot(key, replace: false, out int slot, ref roomHeld);
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

        bool noRoom = false;
        var status = ReserveSlot(key, replace, out int slot, ref noRoom);
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

        lock (_table.Lock)
        {
            FreeLocked(reservation.Slot);
        }
    }

    /// <summary>
    /// A free slot, or the policy's victim. A victim is handed to the eviction sink while it is still visible (readers
    /// keep finding it until the tier below holds it), and leaves only afterwards; if readers pinned it meanwhile, the
    /// last of them frees it and another victim is taken.
    /// </summary>
    private TierWriteStatus ReserveSlot(in ChunkKey key, bool replace, out int slot, ref bool roomHeld, bool trimming = false)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        slot = -1;
        if (!replace && _table.Contains(key))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        while (true)
        {
            int victim;
            IEvictionSink? sink;
            KvLayout? victimLayout;
            lock (_table.Lock)
            {
                if (!replace && _table.Contains(key))
                {
                    return TierWriteStatus.AlreadyPresent;
                }

                // At or over the slot limit (lowered at run time) a write reuses a victim's slot instead of a free one.
                if (!trimming && _slots - _table.FreeCount < SlotLimit && _table.TryTakeFreeLocked(out slot))
                {
                    return TierWriteStatus.Stored;
                }

                victim = _table.SelectVictimLocked(key, trimming);
                if (victim < 0)
                {
                    if (_counters is not null && !trimming)
                    {
                        _metrics!.RecordRejection(_counters, "all_pinned");
                    }

                    return TierWriteStatus.NoSpace;
                }

                sink = EvictionSink;
                victimLayout = _layouts[victim];
                if (sink is null || victimLayout is null)
                {
                    _table.DetachLocked(victim, SlotState.Writing);
                    slot = victim;
                }
                else
                {
                    _table.BeginDrainLocked(victim);
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
                sink!.OnEvicting(victimLayout!, _table.KeyOf(victim), _table.ParentOf(victim), new ReadOnlySpan<byte>(_pool + (victim * _slotBytes), _table.LengthOf(victim)), _table.VersionOf(victim), ref roomHeld);
            }
            finally
            {
                lock (_table.Lock)
                {
                    _table.EndDrainLocked(victim);
                    if (_table.StateOf(victim) == SlotState.Ready)
                    {
                        _table.DetachLocked(victim);
                    }

                    // else removed or replaced during the hand-over: already detached.
                    if (_table.IsIdleLocked(victim))
                    {
                        _table.SetStateLocked(victim, SlotState.Writing);
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
        lock (_table.Lock)
        {
            if (_table.TryGetLocked(key, out int old))
            {
                if (version == 0 || _table.VersionOf(old) >= version)
                {
                    // Another writer stored the same chunk (or a newer version) meanwhile: keep theirs.
                    FreeLocked(slot);
                    return TierWriteStatus.AlreadyPresent;
                }

                RemoveLocked(old);
            }

            _layouts[slot] = layout;
            _table.PublishLocked(slot, key, length, parent, version, SlotState.Ready);
        }

        return TierWriteStatus.Stored;
    }

    /// <summary>Deletes a chunk. A chunk being read is deleted once its readers are done (it is invisible at once).</summary>
    public bool Remove(in ChunkKey key)
    {
        lock (_table.Lock)
        {
            if (!_table.TryGetLocked(key, out int slot))
            {
                return false;
            }

            RemoveLocked(slot);
            return true;
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default) => ValueTask.FromResult(Remove(key));

    /// <inheritdoc />
    public ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        _table.ContainsEach(keys.Span, present.Span);
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
        lock (_table.Lock)
        {
            if (_table.TryGetLocked(key, out int slot) && _layouts[slot] is { } l)
            {
                layout = l;
                parent = _table.ParentOf(slot);
                version = _table.VersionOf(slot);
                return true;
            }
        }

        layout = null;
        parent = null;
        version = 0;
        return false;
    }

    /// <summary>The version of the resident copy of <paramref name="key"/>; false on a miss.</summary>
    public bool TryGetVersion(in ChunkKey key, out long version) => _table.TryGetVersion(key, out version);

    /// <summary>Snapshot of resident keys (for tests and diagnostics; allocates).</summary>
    public ChunkKey[] ResidentKeys() => _table.ResidentKeys();

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Curves?.Dispose();
        lock (_table.Lock)
        {
            _table.ClearLocked();
        }

        _options.Allocator.Free((nint)_pool, (nuint)PoolBytes);
    }

    internal void Unpin(int slot) => _table.Unpin(slot, _free);

    private bool TryPin(in ChunkKey key, out int slot)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        lock (_table.Lock)
        {
            return _table.TryPinLocked(key, out slot);
        }
    }

    /// <summary>Removes a resident slot (delete, or replaced by a newer version): freed now, or by its last reader, or by the eviction hand-over in progress.</summary>
    private void RemoveLocked(int slot)
    {
        _table.DetachLocked(slot);
        if (_table.IsIdleLocked(slot))
        {
            FreeLocked(slot);
        }
    }

    private void FreeLocked(int slot)
    {
        _layouts[slot] = null;
        _table.ReleaseLocked(slot);
    }
}
