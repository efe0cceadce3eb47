using System.Diagnostics;
using TierKv.Keys;
using TierKv.Nvme.Io;
using TierKv.Tiers;
using TierKv.Tiers.Slots;

namespace TierKv.Nvme;

/// <summary>
/// The SSD tier's use of its <see cref="SlotTable"/>. Beyond DRAM's states a slot here may be staged (visible, its write
/// in flight: readers wait), held (an older version kept on disk until its successor is durable), superseded (replaced
/// while its own write was in flight), retiring (its header page being zeroed so the stale copy cannot come back at the
/// next open) or unbacked (no disk blocks). Every change happens under the table's lock.
/// </summary>
public sealed partial class NvmeTier
{
    /// <summary>
    /// Deletes <paramref name="key"/>: invisible at once, and the call completes only when no copy of it is left on
    /// disk (the current one and any older one still waiting for its successor), so a crash after a delete never brings
    /// the value back.
    /// </summary>
    public async ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        lock (_table.Lock)
        {
            if (!_table.TryGetLocked(key, out int slot))
            {
                return false;
            }

            var state = _table.StateOf(slot);
            _table.DetachLocked(slot);
            if (state == SlotState.Staged)
            {
                // Its write is in flight: it retires itself (and what it replaced) when the write completes.
                _table.SetStateLocked(slot, SlotState.Superseded);
            }
            else
            {
                RetireLocked(slot);
            }
        }

        await WaitForCopiesAsync(key, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Completes when no unindexed copy of <paramref name="key"/> (held, superseded, retiring) is left.</summary>
    private async Task WaitForCopiesAsync(ChunkKey key, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_table.Lock)
            {
                if (!_table.HasCopyOnMediumLocked(key))
                {
                    return;
                }

                changed = ChangedLocked();
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A task completed at the next slot change (a write or a retirement finishing).</summary>
    private Task ChangedLocked() => (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private void SignalLocked()
    {
        var c = _changed;
        _changed = null;
        c?.TrySetResult();
    }

    /// <summary>Reserves an invisible slot for a synchronous write of a content-addressed chunk (published at completion).</summary>
    private TierWriteStatus Reserve(in ChunkKey key, out int slot)
    {
        slot = -1;
        bool evicted;
        lock (_table.Lock)
        {
            if (_table.Contains(key))
            {
                return TierWriteStatus.AlreadyPresent;
            }

            var s = TakeSlotLocked(key, out slot, out evicted);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }
        }

        CountEviction(evicted);
        return TierWriteStatus.Stored;
    }

    /// <summary>
    /// Reserves a slot for a write-behind and publishes it as staged: visible now, read once its write completes. An
    /// older version of the key leaves the index at once but stays on disk (held) until this write is durable.
    /// </summary>
    private TierWriteStatus ReserveStaged(KvLayout layout, in ChunkKey key, ChunkKey? parent, int length, long version, out int slot)
    {
        slot = -1;
        bool evicted;
        lock (_table.Lock)
        {
            bool replaces = _table.TryGetLocked(key, out int old);
            if (replaces && (version == 0 || _table.VersionOf(old) >= version))
            {
                return TierWriteStatus.AlreadyPresent;
            }

            var s = TakeSlotLocked(key, out slot, out evicted);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }

            int predecessor = -1;
            if (replaces && _table.TryGetLocked(key, out old))
            {
                // (The older copy may itself have been the victim: then this write overwrites it in place.)
                var state = _table.StateOf(old);
                _table.DetachLocked(old);
                if (state == SlotState.Staged)
                {
                    _table.SetStateLocked(old, SlotState.Superseded);
                    predecessor = _predecessor[old];
                    _predecessor[old] = -1;
                }
                else
                {
                    _table.SetStateLocked(old, SlotState.Held);
                    predecessor = old;
                }
            }

            _predecessor[slot] = predecessor;
            PublishLocked(slot, key, layout.Fingerprint, length, parent, version, SlotState.Staged);
        }

        CountEviction(evicted);
        return TierWriteStatus.Stored;
    }

    /// <summary>A free slot, or the policy's victim detached; marked writing. Under the lock.</summary>
    private TierWriteStatus TakeSlotLocked(in ChunkKey key, out int slot, out bool evicted)
    {
        evicted = false;
        if (Stopwatch.GetTimestamp() < _admissionStoppedUntil)
        {
            // The disk was full a moment ago: decline stores for a while, keep serving reads.
            slot = -1;
            return RejectNoSpaceLocked();
        }

        if (_table.TryTakeFreeLocked(out slot))
        {
            return TierWriteStatus.Stored;
        }

        // Older versions and deleted values are being erased (their slots come back within moments): wait for them
        // rather than evict live data while dead copies hold the space. Bounded, and the writes that free them run on
        // the I/O threads, so the wait cannot block its own way out.
        long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
        while (_table.CopiesOnMedium > 0 && _table.FreeCount == 0)
        {
            int ms = (int)((deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency);
            if (ms <= 0 || !Monitor.Wait(_table.Lock, ms))
            {
                break;
            }
        }

        if (_table.TryTakeFreeLocked(out slot))
        {
            return TierWriteStatus.Stored;
        }

        int victim = _table.SelectVictimLocked(key);
        if (victim < 0)
        {
            if (_counters is not null)
            {
                _metrics!.RecordRejection(_counters, "all_pinned");
            }

            return TierWriteStatus.NoSpace;
        }

        _table.DetachLocked(victim, SlotState.Writing);
        slot = victim;
        evicted = true;
        return TierWriteStatus.Stored;
    }

    private void CountEviction(bool evicted)
    {
        if (evicted)
        {
            Interlocked.Increment(ref _evictions);
            if (_counters is not null)
            {
                _metrics!.RecordEviction(_counters);
            }
        }
    }

    private TierWriteStatus RejectNoSpaceLocked()
    {
        Interlocked.Increment(ref _noSpace);
        if (_counters is not null)
        {
            _metrics!.RecordRejection(_counters, "no_space");
        }

        return TierWriteStatus.NoSpace;
    }

    /// <summary>The disk has no blocks for the slot (a sparse file on a full disk): retire it for good and pause admission.</summary>
    private void MarkUnbackedLocked(int slot)
    {
        _table.SetStateLocked(slot, SlotState.Unbacked);
        _backedSlots--;
        Volatile.Write(ref _admissionStoppedUntil, Stopwatch.GetTimestamp() + Stopwatch.Frequency);
        LogOnce(ref _loggedNoSpace, $"SSD tier '{Name}': the disk under '{_options.Directory}' is full; stores are declined (counted as no_space) while reads go on.");
    }

    /// <summary>Completion of a synchronous write (<see cref="Reserve"/>): publish, unless another copy won meanwhile.</summary>
    private TierWriteStatus Complete(int slot, long result, KvLayout layout, in ChunkKey key, ChunkKey? parent, int length)
    {
        if (result < 0)
        {
            lock (_table.Lock)
            {
                if (result == -LibC.ENoSpc)
                {
                    MarkUnbackedLocked(slot);
                    return RejectNoSpaceLocked();
                }

                _table.ReleaseLocked(slot);
            }

            RecordIoError("write");
            return TierWriteStatus.Failed;
        }

        lock (_table.Lock)
        {
            if (_table.Contains(key))
            {
                // Another writer stored the key meanwhile: keep theirs, and zero ours so it cannot come back at an open.
                RetireLocked(slot);
                return TierWriteStatus.AlreadyPresent;
            }

            PublishLocked(slot, key, layout.Fingerprint, length, parent, 0, SlotState.Ready);
        }

        return TierWriteStatus.Stored;
    }

    /// <summary>
    /// Completion of a write-behind: a staged slot becomes ready and the version it replaced is zeroed; a slot replaced
    /// (or deleted) while in flight retires. A failed write never brings the older version back: it was replaced by an
    /// acknowledged newer one, so it retires too and the key is a miss.
    /// </summary>
    private void CompleteStaged(int slot, long result)
    {
        bool ioError = false;
        lock (_table.Lock)
        {
            int predecessor = _predecessor[slot];
            _predecessor[slot] = -1;
            bool visible = _table.StateOf(slot) == SlotState.Staged;
            if (result >= 0)
            {
                if (visible)
                {
                    _table.SetStateLocked(slot, SlotState.Ready);
                }
                else
                {
                    RetireLocked(slot);
                }
            }
            else
            {
                if (visible)
                {
                    _table.DetachLocked(slot);
                }

                if (result == -LibC.ENoSpc)
                {
                    MarkUnbackedLocked(slot);
                    RejectNoSpaceLocked();
                }
                else
                {
                    ioError = true;
                    RetireLocked(slot);
                }
            }

            if (predecessor >= 0)
            {
                RetireLocked(predecessor);
            }

            SignalLocked();
            Monitor.PulseAll(_table.Lock);
        }

        if (ioError)
        {
            RecordIoError("write");
        }
    }

    private void PublishLocked(int slot, in ChunkKey key, in ChunkKey fingerprint, int length, ChunkKey? parent, long version, SlotState state)
    {
        _fingerprints[slot] = fingerprint;
        _table.PublishLocked(slot, key, length, parent, version, state);
        if (version > _maxVersion)
        {
            Volatile.Write(ref _maxVersion, version);
        }
    }

    /// <summary>Pins the ready slot of <paramref name="key"/>; when it is staged, <paramref name="staged"/> completes at the next slot change.</summary>
    private bool TryPin(in ChunkKey key, out int slot, out int length, out Task? staged)
    {
        staged = null;
        length = 0;
        lock (_table.Lock)
        {
            if (!_table.TryGetLocked(key, out slot))
            {
                return false;
            }

            if (_table.StateOf(slot) == SlotState.Staged)
            {
                staged = ChangedLocked();
                return false;
            }

            Debug.Assert(_table.StateOf(slot) == SlotState.Ready, "indexed slots are staged or ready");
            _table.TryPinLocked(key, out slot);
            length = _table.LengthOf(slot);
            return true;
        }
    }

    private void Unpin(int slot) => _table.Unpin(slot, _lastReader);

    /// <summary>The last reader of a detached slot frees it; of a retiring one, zeroes it first.</summary>
    private void LastReaderLocked(int slot)
    {
        if (_table.StateOf(slot) == SlotState.Retiring)
        {
            StartZeroLocked(slot);
        }
        else
        {
            _table.ReleaseLocked(slot);
        }
    }

    /// <summary>A read found the slot damaged or unreadable: make it invisible (the last reader frees it).</summary>
    private void Drop(int slot, in ChunkKey key)
    {
        lock (_table.Lock)
        {
            if (_table.StateOf(slot) == SlotState.Ready && _table.KeyOf(slot) == key)
            {
                _table.DetachLocked(slot);
            }
        }
    }

    /// <summary>
    /// Zeroes the slot's header page (once its readers are gone) and then frees it: a stale copy on disk would otherwise
    /// come back at the next open.
    /// </summary>
    private void RetireLocked(int slot)
    {
        _table.SetStateLocked(slot, SlotState.Retiring);
        if (!_table.IsPinnedLocked(slot))
        {
            StartZeroLocked(slot);
        }
    }

    private void StartZeroLocked(int slot)
    {
        // Erasing, not retiring any more: a last reader racing this call must not start a second erase.
        _table.SetStateLocked(slot, SlotState.Erasing);
        _zeroing++;
        var req = _engine.Rent();
        req.File = FileOf(slot);
        req.Offset = OffsetOf(slot);
        req.IsWrite = true;
        req.SetBuffer(_zeroPage, BlockFile.Alignment);
        req.Completion = ZeroDone;
        req.State = _retireTokens[slot] ??= new RetireToken(this, slot);
        _engine.Submit(req);
    }

    /// <summary>Runs on the I/O thread when a stale copy's header page was zeroed: the slot is free again.</summary>
    private void CompleteZero(int slot, long result)
    {
        if (result < 0)
        {
            // The stale copy may survive on disk; the slot is reused (and overwritten) all the same.
            RecordIoError("retire");
        }

        lock (_table.Lock)
        {
            _zeroing--;
            _table.ReleaseLocked(slot);
            SignalLocked();
            Monitor.PulseAll(_table.Lock);
        }
    }

    /// <summary>The state of a zeroing write (one per slot, made once): no allocation per retirement.</summary>
    private sealed class RetireToken(NvmeTier tier, int slot)
    {
        public NvmeTier Tier { get; } = tier;

        public int Slot { get; } = slot;
    }
}
