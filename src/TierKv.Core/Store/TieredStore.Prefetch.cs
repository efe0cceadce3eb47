using System.Buffers;
using TierKv.Memory;

namespace TierKv.Store;

/// <summary>Prefetch: moving chunks a request will need from slower tiers into DRAM ahead of it.</summary>
public sealed partial class TieredStore
{
    /// <summary>
    /// Moves the leading cached chunks of <paramref name="keys"/> that sit in slower tiers up to DRAM, so a following
    /// <c>Retrieve</c> is served from memory. Start it when a request is scheduled and do not wait for it; it never
    /// throws for I/O trouble. Returns how many leading chunks are in DRAM when it is done. Bounded: at most
    /// <see cref="TieredStoreOptions.MaxPrefetchesInFlight"/> reads at once and
    /// <see cref="TieredStoreOptions.MaxQueuedPrefetches"/> chunks waiting across all requests; beyond that the
    /// rest of a request is shed and counted (<see cref="PrefetchShed"/>).
    /// </summary>
    public async Task<int> PrefetchAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (_dram is null || keys.Length == 0)
        {
            return 0;
        }

        int n = keys.Length;
        int[] where = ArrayPool<int>.Shared.Rent(n);
        var reads = new List<Task<bool>>();
        int inDram = 0;
        int queued = 0;
        try
        {
            int located = LocateChunks(keys.Span, where);
            for (int k = 0; k < located; k++)
            {
                if (ReferenceEquals(_tiers[where[k]], _dram))
                {
                    inDram++;
                    continue;
                }

                if (Interlocked.Increment(ref _queuedPrefetches) > _options.MaxQueuedPrefetches)
                {
                    Interlocked.Decrement(ref _queuedPrefetches);
                    Interlocked.Add(ref _prefetchShed, located - k);
                    break;
                }

                queued++;
                await _prefetchPermits.WaitAsync(cancellationToken).ConfigureAwait(false);
                ChunkKey? parent = k > 0 ? keys.Span[k - 1] : null;
                reads.Add(PrefetchOneAsync(layout, keys.Span[k], parent, _tiers[where[k]], cancellationToken));
            }

            foreach (var r in reads)
            {
                inDram += await r.ConfigureAwait(false) ? 1 : 0;
            }

            return inDram;
        }
        finally
        {
            foreach (var r in reads)
            {
                if (!r.IsCompleted)
                {
                    await Task.WhenAny(r).ConfigureAwait(false);
                }
            }

            Interlocked.Add(ref _queuedPrefetches, -queued);
            ArrayPool<int>.Shared.Return(where);
        }
    }

    private static unsafe void FreeNative(nint pointer) => System.Runtime.InteropServices.NativeMemory.AlignedFree((void*)pointer);

    private static unsafe nint AllocNative(int bytes) => (nint)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, HostMemoryTierOptions.PageSize);

    private async Task<bool> PrefetchOneAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, IKvTier tier, CancellationToken ct)
    {
        int cb = layout.ChunkBytes;
        (nint Pointer, int Bytes) buf = default;
        try
        {
            if (!_prefetchBuffers.TryTake(out buf) || buf.Bytes < cb)
            {
                if (buf.Pointer != 0)
                {
                    FreeNative(buf.Pointer);
                }

                buf = (AllocNative(cb), cb);
            }

            using var mm = new NativeMemoryManager(buf.Pointer, cb);
            long t0 = Stopwatch.GetTimestamp();
            var s = await tier.ReadAsync(layout, key, mm.Memory, ct).ConfigureAwait(false);
            if (s != TierReadStatus.Hit)
            {
                return false;
            }

            int t = Array.IndexOf(_tiers, tier);
            Metrics.RecordRead(_counters[t], cb, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            // Like a store's DRAM write (it may await room), but without room in time it is skipped (the chunk stays below).
            var w = await WriteDramFirstRoomAsync(layout, key, parent, new ChunkPayload(mm.Memory), RoomFirst.AwaitOrSkip, writeThrough: false, ct).ConfigureAwait(false);
            if (w == TierWriteStatus.Stored)
            {
                Interlocked.Increment(ref _prefetched);
            }

            return w is TierWriteStatus.Stored or TierWriteStatus.AlreadyPresent;
        }
        catch (Exception ex) when (MediumFaults.EndsBackgroundWork(ex))
        {
            // A prefetch is only a hint: its failure leaves the chunk where it was.
            return false;
        }
        finally
        {
            if (buf.Pointer != 0)
            {
                _prefetchBuffers.Add(buf);
            }

            _prefetchPermits.Release();
        }
    }
}
