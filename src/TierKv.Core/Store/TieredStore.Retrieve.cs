using System.Buffers;
using TierKv.Memory;

namespace TierKv.Store;

/// <summary>Retrieve: copying hit chunks out of the fastest tier holding each, and promotion into DRAM.</summary>
public sealed partial class TieredStore
{
    /// <summary>
    /// Copies the leading cached chunks of <paramref name="keys"/> into <paramref name="destination"/> (chunk i at
    /// offset i × chunk size), each from the fastest tier holding it, and returns how many leading chunks were
    /// copied. A chunk that turns out missing or damaged ends the run: bytes after it are not valid.
    /// </summary>
    public int Retrieve(KvLayout layout, ReadOnlySpan<ChunkKey> keys, Span<byte> destination, Span<TierKind> servedBy = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int cb = layout.ChunkBytes;
        if ((long)keys.Length * cb > destination.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes but {keys.Length} chunks of {cb} bytes were asked for.", nameof(destination));
        }

        if (servedBy.Length != 0 && servedBy.Length < keys.Length)
        {
            throw new ArgumentException("servedBy must be empty or have one entry per key.", nameof(servedBy));
        }

        int i = 0;
        for (; i < keys.Length; i++)
        {
            // Fast path: the DRAM tier copies synchronously with no allocation.
            if (_tiers[0] is not HostMemoryTier dram)
            {
                break;
            }

            long t0 = Stopwatch.GetTimestamp();
            if (!dram.TryRead(keys[i], destination.Slice(i * cb, cb)))
            {
                break;
            }

            Metrics.RecordRead(_counters[0], cb, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            _sightings?.Add(keys[i]);
            if (servedBy.Length != 0)
            {
                servedBy[i] = TierKind.Dram;
            }
        }

        if (i == keys.Length)
        {
            return i;
        }

        // Slower tiers: hand the rest to the asynchronous path over the same memory.
        unsafe
        {
            fixed (byte* p = destination)
            {
                using var mm = new NativeMemoryManager((nint)(p + ((long)i * cb)), destination.Length - (i * cb));
                var rest = keys[i..].ToArray();
                var kinds = new TierKind[rest.Length];
                int got = RetrieveAsync(layout, rest, mm.Memory, kinds).AsTask().GetAwaiter().GetResult();
                if (servedBy.Length != 0)
                {
                    kinds.AsSpan(0, got).CopyTo(servedBy[i..]);
                }

                return i + got;
            }
        }
    }

    /// <summary>
    /// Asynchronous <c>Retrieve</c>: reads from slower tiers run concurrently, up to
    /// <see cref="TieredStoreOptions.MaxReadsInFlight"/> at once. Returns the number of leading chunks copied.
    /// </summary>
    public async ValueTask<int> RetrieveAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<byte> destination, Memory<TierKind> servedBy = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int cb = layout.ChunkBytes;
        int n = keys.Length;
        if ((long)n * cb > destination.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes but {n} chunks of {cb} bytes were asked for.", nameof(destination));
        }

        if (n == 0)
        {
            return 0;
        }

        int[] where = ArrayPool<int>.Shared.Rent(n);
        try
        {
            int located = LocateChunks(keys.Span, where);
            if (located < n)
            {
                // Chunks no local tier holds may still be in a remote tier.
                for (int k = located; k < n; k++)
                {
                    where[k] = -1;
                }

                located = n;
            }

            var status = new TierReadStatus[n];
            Array.Fill(status, TierReadStatus.Miss);
            int window = _options.MaxReadsInFlight;
            var inflight = new List<Task>(Math.Min(window, n));

            // Two passes: chunks located in DRAM first (copied synchronously), then the slower tiers. A slower tier's
            // hit is promoted into DRAM as soon as its read completes, and that promotion may evict a DRAM chunk of this
            // same request; read later, that chunk would be in flight to the SSD, visible in neither tier.
            for (int pass = 0; pass < 2; pass++)
            {
                for (int k = 0; k < n; k++)
                {
                    bool inDram = where[k] >= 0 && ReferenceEquals(_tiers[where[k]], _dram);
                    if (inDram != (pass == 0))
                    {
                        continue;
                    }

                    int idx = k;
                    ChunkKey? parent = idx > 0 ? keys.Span[idx - 1] : null;
                    inflight.Add(ReadOneAsync(layout, keys.Span[idx], parent, where[idx], destination.Slice(idx * cb, cb), status, idx, servedBy, cancellationToken));
                    if (inflight.Count >= window)
                    {
                        var done = await Task.WhenAny(inflight).ConfigureAwait(false);
                        inflight.Remove(done);
                    }
                }
            }

            await Task.WhenAll(inflight).ConfigureAwait(false);
            int hit = 0;
            while (hit < n && status[hit] == TierReadStatus.Hit)
            {
                hit++;
            }

            return hit;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(where);
        }
    }

    private async Task ReadOneAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, int tierHint, Memory<byte> destination, TierReadStatus[] status, int idx, Memory<TierKind> servedBy, CancellationToken ct)
    {
        int start = tierHint >= 0 ? tierHint : 0;
        for (int t = start; t < _tiers.Length; t++)
        {
            var tier = _tiers[t];
            if (tierHint < 0 && tier.HasLocalIndex && !tier.Contains(key))
            {
                continue;
            }

            long t0 = Stopwatch.GetTimestamp();
            TierReadStatus s;
            try
            {
                s = await tier.ReadAsync(layout, key, destination, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (MediumFaults.Is(ex, ct))
            {
                // A tier must not throw for I/O trouble; if one does, it is still only a miss.
                Metrics.RecordIoError(_counters[t], "read");
                s = TierReadStatus.Failed;
            }

            if (s == TierReadStatus.Hit)
            {
                Metrics.RecordRead(_counters[t], destination.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                status[idx] = TierReadStatus.Hit;
                if (servedBy.Length > idx)
                {
                    servedBy.Span[idx] = tier.Kind;
                }

                _sightings?.Add(key);
                if (t > 0 && _dram is not null && _options.PromoteOnHit && !ReferenceEquals(tier, _dram))
                {
                    // Promotion: the verified payload is in the caller's buffer now; DRAM keeps a copy. A retrieve never
                    // waits for writes: when the promotion would evict and the queue below has no room right now, it is
                    // skipped (counted) and the chunk stays in the slower tier, instead of pushing a DRAM chunk out to be shed.
                    var promoted = await WriteDramFirstRoomAsync(layout, key, parent, new ChunkPayload(destination), RoomFirst.NowOrSkip, writeThrough: false, ct).ConfigureAwait(false);
                    if (promoted == TierWriteStatus.Stored)
                    {
                        Interlocked.Increment(ref _promotions);
                    }
                    else if (promoted == TierWriteStatus.NotAdmitted)
                    {
                        Interlocked.Increment(ref _promotionsSkipped);
                        Metrics.RecordPromotionSkipped();
                    }
                }

                return;
            }

            status[idx] = s;
        }
    }
}
