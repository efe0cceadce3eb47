using System.Diagnostics;
using TierKv.Keys;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme;

/// <summary>
/// Slot bookkeeping. A slot is free, writing (reserved, invisible), staged (visible, its write in flight: readers wait),
/// ready, detached (invisible, freed by its last reader), held (an older version kept on disk until its successor is
/// durable), superseded (replaced while its own write was in flight), retiring (its header being zeroed so the stale
/// copy cannot come back at the next open) or unbacked (no disk blocks). Every change happens under <c>_lock</c>.
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
        lock (_lock)
        {
            if (!_index.TryGet(key, out int slot))
            {
                return false;
            }

            byte state = _states[slot];
            DetachLocked(slot);
            if (state == Staged)
            {
                // Its write is in flight: it retires itself (and what it replaced) when the write completes.
                _states[slot] = Superseded;
                _pendingCopies++;
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
            lock (_lock)
            {
                if (!HasPendingCopyLocked(key))
                {
                    return;
                }

                changed = ChangedLocked();
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private bool HasPendingCopyLocked(in ChunkKey key)
    {
        if (_pendingCopies == 0)
        {
            return false;
        }

        for (int s = 0; s < _slots; s++)
        {
            if (_states[s] is Held or Superseded or Retiring && _keys[s] == key)
            {
                return true;
            }
        }

        return false;
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
        lock (_lock)
        {
            if (_index.Contains(key))
            {
                return TierWriteStatus.AlreadyPresent;
            }

            var s = TakeSlotLocked(key, out slot, out evicted);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }

            _states[slot] = Writing;
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
        lock (_lock)
        {
            bool replaces = _index.TryGet(key, out int old);
            if (replaces && (version == 0 || _versions[old] >= version))
            {
                return TierWriteStatus.AlreadyPresent;
            }

            var s = TakeSlotLocked(key, out slot, out evicted);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }

            int predecessor = -1;
            if (replaces && _index.TryGet(key, out old))
            {
                // (The older copy may itself have been the victim: then this write overwrites it in place.)
                byte state = _states[old];
                DetachLocked(old);
                if (state == Staged)
                {
                    _states[old] = Superseded;
                    predecessor = _predecessor[old];
                    _predecessor[old] = -1;
                }
                else
                {
                    _states[old] = Held;
                    predecessor = old;
                }

                _pendingCopies++;
            }

            _predecessor[slot] = predecessor;
            PublishLocked(slot, key, layout.Fingerprint, length, parent, version, Staged);
        }

        CountEviction(evicted);
        return TierWriteStatus.Stored;
    }

    /// <summary>A free slot, or the policy's victim detached; under the lock.</summary>
    private TierWriteStatus TakeSlotLocked(in ChunkKey key, out int slot, out bool evicted)
    {
        slot = -1;
        evicted = false;
        if (Stopwatch.GetTimestamp() < _admissionStoppedUntil)
        {
            // The disk was full a moment ago: decline stores for a while, keep serving reads.
            return RejectNoSpaceLocked();
        }

        if (_freeCount > 0)
        {
            slot = _freeStack[--_freeCount];
            return TierWriteStatus.Stored;
        }

        int victim = _policy.SelectVictim(key, this);
        if (victim < 0)
        {
            if (_counters is not null)
            {
                _metrics!.RecordRejection(_counters, "all_pinned");
            }

            return TierWriteStatus.NoSpace;
        }

        DetachLocked(victim);
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
        _states[slot] = Unbacked;
        _backedSlots--;
        Volatile.Write(ref _admissionStoppedUntil, Stopwatch.GetTimestamp() + Stopwatch.Frequency);
        LogOnce(ref _loggedNoSpace, $"SSD tier '{Name}': the disk under '{_options.Directory}' is full; stores are declined (counted as no_space) while reads go on.");
    }

    /// <summary>Completion of a synchronous write (<see cref="Reserve"/>): publish, unless another copy won meanwhile.</summary>
    private TierWriteStatus Complete(int slot, long result, KvLayout layout, in ChunkKey key, ChunkKey? parent, int length)
    {
        if (result < 0)
        {
            lock (_lock)
            {
                if (result == -LibC.ENoSpc)
                {
                    MarkUnbackedLocked(slot);
                    return RejectNoSpaceLocked();
                }

                ReleaseLocked(slot);
            }

            RecordIoError("write");
            return TierWriteStatus.Failed;
        }

        lock (_lock)
        {
            if (_index.Contains(key))
            {
                // Another writer stored the key meanwhile: keep theirs, and zero ours so it cannot come back at an open.
                RetireLocked(slot);
                return TierWriteStatus.AlreadyPresent;
            }

            PublishLocked(slot, key, layout.Fingerprint, length, parent, 0, Ready);
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
        lock (_lock)
        {
            int predecessor = _predecessor[slot];
            _predecessor[slot] = -1;
            bool visible = _states[slot] == Staged;
            if (result >= 0)
            {
                if (visible)
                {
                    _states[slot] = Ready;
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
                    DetachLocked(slot);
                }
                else
                {
                    _pendingCopies--;
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
        }

        if (ioError)
        {
            RecordIoError("write");
        }
    }

    private void PublishLocked(int slot, in ChunkKey key, in ChunkKey fingerprint, int length, ChunkKey? parent, long version, byte state)
    {
        _keys[slot] = key;
        _fingerprints[slot] = fingerprint;
        _lengths[slot] = length;
        _versions[slot] = version;
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

        _states[slot] = state;
        _index.Add(key, slot);
        _policy.OnInsert(slot, key, parent);
        _usedBytes += length;
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
        lock (_lock)
        {
            if (!_index.TryGet(key, out slot))
            {
                return false;
            }

            if (_states[slot] == Staged)
            {
                staged = ChangedLocked();
                return false;
            }

            Debug.Assert(_states[slot] == Ready, "indexed slots are staged or ready");
            _pins[slot]++;
            _policy.OnHit(slot);
            length = _lengths[slot];
            return true;
        }
    }

    private void Unpin(int slot)
    {
        lock (_lock)
        {
            if (--_pins[slot] == 0)
            {
                if (_states[slot] == Detached)
                {
                    ReleaseLocked(slot);
                }
                else if (_states[slot] == Retiring)
                {
                    StartZeroLocked(slot);
                }
            }
        }
    }

    /// <summary>A read found the slot damaged or unreadable: make it invisible (the last reader frees it).</summary>
    private void Drop(int slot, in ChunkKey key)
    {
        lock (_lock)
        {
            if (_states[slot] == Ready && _keys[slot] == key)
            {
                DetachLocked(slot);
            }
        }
    }

    private void DetachLocked(int slot)
    {
        bool indexed = _index.RemoveSlot(slot);
        Debug.Assert(indexed, "only published slots are detached");
        _policy.OnRemove(slot);
        _lineage.Detach(slot);
        _usedBytes -= _lengths[slot];
        _states[slot] = Detached;
    }

    /// <summary>
    /// Zeroes the slot's header page (once its readers are gone) and then frees it: a stale copy on disk would otherwise
    /// come back at the next open.
    /// </summary>
    private void RetireLocked(int slot)
    {
        if (_states[slot] is not (Held or Superseded or Retiring))
        {
            _pendingCopies++;
        }

        _states[slot] = Retiring;
        if (_pins[slot] == 0)
        {
            StartZeroLocked(slot);
        }
    }

    private void StartZeroLocked(int slot)
    {
        _zeroing++;
        _ = ZeroAsync(slot);
    }

    private async Task ZeroAsync(int slot)
    {
        long r = await _engine.WriteAsync(FileOf(slot), _zeroPage, BlockFile.Alignment, OffsetOf(slot), false).ConfigureAwait(false);
        if (r < 0)
        {
            // The stale copy may survive on disk; the slot is reused (and overwritten) all the same.
            RecordIoError("retire");
        }

        lock (_lock)
        {
            _zeroing--;
            _pendingCopies--;
            ReleaseLocked(slot);
            SignalLocked();
        }
    }

    private void ReleaseLocked(int slot)
    {
        _states[slot] = Free;
        _lineage.Retire(slot);
        _freeStack[_freeCount++] = slot;
    }
}
