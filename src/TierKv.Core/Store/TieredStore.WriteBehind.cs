
namespace TierKv.Store;

/// <summary>The hand-over to the write-behind tier below DRAM (through its <see cref="WriteBehindGate"/>) and the eviction sink.</summary>
public sealed partial class TieredStore
{
    /// <summary>
    /// Hands a chunk leaving (write-back) or entering (write-through) DRAM to the tier below, if admitted. Runs on the
    /// writer's thread outside every lock (the DRAM tier calls its eviction sink after releasing its lock), so with
    /// <see cref="WriteBackOverflow.Wait"/> it may block here, bounded, when no room was reserved beforehand.
    /// </summary>
    private void OfferToLower(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version, ref bool roomHeld)
    {
        // A reservation held for this write that ends up unused is given back by the scope that took it.
        if (_writeBehind is not { } lower || HoldsBelow(lower, key, version))
        {
            return;
        }

        if (_sightings is not null && _sightings.Count(key) < 2)
        {
            Interlocked.Increment(ref _notAdmitted);
            Metrics.RecordRejection(_counters[_lower], "not_admitted");
            return;
        }

        long t0 = Stopwatch.GetTimestamp();
        TierWriteStatus s;
        try
        {
            if (roomHeld)
            {
                roomHeld = false;
                s = lower.WriteBehindReserved(layout, key, parent, payload, version);
            }
            else if (_options.WriteBackOverflow == WriteBackOverflow.Wait)
            {
                // No room reserved beforehand (a writer using the DRAM tier directly, or an eviction the estimate did
                // not foresee because another writer took the free slot first): wait here, bounded; no lock is held.
                s = _gate!.Reserve() ? lower.WriteBehindReserved(layout, key, parent, payload, version) : _gate.Shed();
            }
            else
            {
                s = lower.TryWriteBehind(layout, key, parent, payload, version);
            }
        }
        catch (Exception ex) when (MediumFaults.EndsBackgroundWork(ex))
        {
            Metrics.RecordIoError(_counters[_lower], "write");
            s = TierWriteStatus.Failed;
        }

        if (s is TierWriteStatus.NotAdmitted or TierWriteStatus.Failed or TierWriteStatus.NoSpace)
        {
            ForgetOlderBelow(lower, key, version);
        }

        if (s == TierWriteStatus.Stored)
        {
            Interlocked.Increment(ref _writtenBack);
            Metrics.RecordWrite(_counters[_lower], payload.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        else if (s == TierWriteStatus.NotAdmitted)
        {
            Interlocked.Increment(ref _shed);
        }
    }

    /// <summary>Whether a DRAM write starting now, with <paramref name="dramWritesInFlight"/> (itself included) under way, will likely evict a chunk into write-back.</summary>
    private bool DramWriteMayEvict(int dramWritesInFlight) =>
        _options.WriteMode == LowerTierWriteMode.WriteBack && _dram!.ChunkCount + dramWritesInFlight > _dram.SlotCount;

    private bool WaitsForRoom => _gate is { Waits: true };

    /// <summary>
    /// Whether a DRAM write of <paramref name="key"/> should reserve room below before it starts: with
    /// <see cref="WriteBackOverflow.Wait"/>, when it writes through or will likely evict (an estimate: a write the
    /// estimate misses waits in the eviction sink instead).
    /// </summary>
    private bool NeedsRoomFirst(in ChunkKey key, int dramWritesInFlight, bool writeThrough) =>
        WaitsForRoom && !_dram!.Contains(key) && (writeThrough || DramWriteMayEvict(dramWritesInFlight));

    /// <summary>DRAM's eviction callback: hands the evicted chunk to the tier below while its bytes are intact.</summary>
    private sealed class WriteBackSink(TieredStore store) : IEvictionSink
    {
        public void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version, ref bool roomHeld) =>
            store.OfferEvicted(layout, key, parent, payload, version, ref roomHeld);
    }
}
