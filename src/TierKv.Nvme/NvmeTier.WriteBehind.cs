using TierKv.Keys;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme;

/// <summary>The write-behind queue: chunks copied into staging memory at once, visible at once, written in the background.</summary>
public sealed partial class NvmeTier
{
    /// <inheritdoc />
    public long MaxVersion => Interlocked.Read(ref _maxVersion);

    /// <inheritdoc />
    public int WritesInFlight => _table.StagedCount;

    /// <inheritdoc />
    public bool TryGetVersion(in ChunkKey key, out long version) => _table.TryGetVersion(key, out version);

    /// <inheritdoc />
    public TierWriteStatus TryWriteBehind(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version = 0)
    {
        ValidateWrite(layout, payload.Length);
        if (HoldsVersion(key, version))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        if (!_permits.Wait(0))
        {
            // Bounded: under overload the chunk is shed, not queued.
            Interlocked.Increment(ref _shed);
            if (_counters is not null)
            {
                _metrics!.RecordRejection(_counters, "queue_full");
            }

            return TierWriteStatus.NotAdmitted;
        }

        return WriteBehindHoldingPermit(layout, key, parent, payload, version);
    }

    /// <inheritdoc />
    public ValueTask<bool> ReserveWriteBehindAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();

        // The common case (room now) allocates nothing; only a real wait makes a task.
        return _permits.Wait(0) ? ValueTask.FromResult(true) : timeout == TimeSpan.Zero ? ValueTask.FromResult(false) : new ValueTask<bool>(_permits.WaitAsync(timeout, cancellationToken));
    }

    /// <inheritdoc />
    public bool ReserveWriteBehind(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        // Permits come back from the I/O threads (CompleteWriteBehind) or from readers and writers that are themselves
        // waiting only on the I/O threads, so blocking here cannot keep them from coming back.
        return _permits.Wait(timeout, cancellationToken);
    }

    /// <inheritdoc />
    public TierWriteStatus WriteBehindReserved(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version = 0)
    {
        bool handedOver = false;
        try
        {
            ValidateWrite(layout, payload.Length);
            if (HoldsVersion(key, version))
            {
                return TierWriteStatus.AlreadyPresent;
            }

            handedOver = true;
            return WriteBehindHoldingPermit(layout, key, parent, payload, version);
        }
        finally
        {
            if (!handedOver)
            {
                _permits.Release();
            }
        }
    }

    /// <inheritdoc />
    public void ReleaseWriteBehindReservation() => _permits.Release();

    /// <summary>Whether the tier already holds <paramref name="key"/> at <paramref name="version"/> or newer (any copy, for version 0).</summary>
    private bool HoldsVersion(in ChunkKey key, long version)
    {
        if (version == 0)
        {
            return _table.Contains(key);
        }

        return TryGetVersion(key, out long held) && held >= version;
    }

    /// <summary>
    /// The write-behind proper, for a caller holding one permit: the payload is copied into staging memory, then the
    /// chunk is published as staged (visible; reads wait for its write) and the write is queued. The permit goes with
    /// the write (released at its completion) or back at once.
    /// </summary>
    private unsafe TierWriteStatus WriteBehindHoldingPermit(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version)
    {
        StagingBuffer? buf = null;
        bool submitted = false;
        try
        {
            buf = RentBuffer();

            // The span is valid only during this call: copy now (before the chunk becomes visible); checksum on the I/O thread.
            payload.CopyTo(new Span<byte>((void*)(buf.Pointer + BlockFile.Alignment), payload.Length));
            var s = ReserveStaged(layout, key, parent, payload.Length, version, out int slot);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }

            var req = PrepareWrite(buf, slot, layout, key, parent, payload.Length, 0, zeroCopy: false);
            buf.Version = version;
            req.Completion = WriteBehindDone;
            req.State = buf;
            _engine.Submit(req);
            submitted = true;
            return TierWriteStatus.Stored;
        }
        finally
        {
            if (!submitted)
            {
                if (buf is not null)
                {
                    _buffers.Push(buf);
                }

                _permits.Release();
            }
        }
    }

    internal void CompleteWriteBehind(long result, StagingBuffer buf)
    {
        try
        {
            CompleteStaged(buf.Slot, result);
        }
        finally
        {
            buf.Layout = null;
            _buffers.Push(buf);
            _permits.Release();
        }
    }
}
