using TierKv.Tiers.Slots;

namespace TierKv.Store;

/// <summary>Store: whole chunks into DRAM (or the first tier that takes them), write-through, remote sharing.</summary>
public sealed partial class TieredStore
{
    /// <summary>Stores the full chunks of <paramref name="tokens"/> whose KV is in <paramref name="payload"/> (chunk after chunk).</summary>
    public int Store(KvLayout layout, TenantSalt salt, ReadOnlySpan<int> tokens, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var keys = PrefixHasher.ComputeKeys(layout, salt, tokens);
        return Store(layout, keys, payload);
    }

    /// <summary>
    /// Stores chunks <c>[firstChunk, firstChunk + payload.Length / chunk size)</c> of the prefix named by
    /// <paramref name="keys"/> into the first tier that has room. Returns the number of chunks now held (stored or
    /// already present). Throws, storing nothing, when the payload is not a whole number of chunks or names chunks
    /// beyond <paramref name="keys"/>. A <paramref name="priority"/> above <see cref="ChunkPriorities.Normal"/> is given to
    /// every chunk stored or already held (<see cref="Priorities"/>); a normal store leaves a chunk's priority as it was.
    /// </summary>
    public unsafe int Store(KvLayout layout, ReadOnlySpan<ChunkKey> keys, ReadOnlySpan<byte> payload, int firstChunk = 0, byte priority = ChunkPriorities.Normal)
    {
        int count = ValidateStore(layout, keys.Length, payload.Length, firstChunk);
        int cb = layout.ChunkBytes;
        int held = 0;
        fixed (byte* p = payload)
        {
            for (int c = 0; c < count; c++)
            {
                int i = firstChunk + c;
                ChunkKey? parent = i > 0 ? keys[i - 1] : null;
                Prioritize(keys[i], priority);

                // The same flow as StoreAsync, blocking where it would await: DRAM completes it synchronously.
                var one = StoreOneAsync(block: true, layout, keys[i], parent, new ChunkPayload((nint)(p + ((long)c * cb)), cb), CancellationToken.None);
                if (one.IsCompleted ? one.Result : one.AsTask().GetAwaiter().GetResult())
                {
                    held++;
                }
            }
        }

        return held;
    }

    /// <summary>Asynchronous <see cref="Store(KvLayout, ReadOnlySpan{ChunkKey}, ReadOnlySpan{byte}, int, byte)"/> at normal priority.</summary>
    public ValueTask<int> StoreAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, ReadOnlyMemory<byte> payload, int firstChunk = 0, CancellationToken cancellationToken = default) =>
        StoreAsync(layout, keys, payload, firstChunk, ChunkPriorities.Normal, cancellationToken);

    /// <summary>Asynchronous <see cref="Store(KvLayout, ReadOnlySpan{ChunkKey}, ReadOnlySpan{byte}, int, byte)"/>.</summary>
    public async ValueTask<int> StoreAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, ReadOnlyMemory<byte> payload, int firstChunk, byte priority, CancellationToken cancellationToken = default)
    {
        int count = ValidateStore(layout, keys.Length, payload.Length, firstChunk);
        int cb = layout.ChunkBytes;
        int held = 0;
        int window = _options.MaxWritesInFlight;
        var inflight = new List<Task<bool>>(Math.Min(window, count));
        for (int c = 0; c < count; c++)
        {
            int i = firstChunk + c;
            ChunkKey? parent = i > 0 ? keys.Span[i - 1] : null;
            Prioritize(keys.Span[i], priority);
            inflight.Add(StoreOneAsync(block: false, layout, keys.Span[i], parent, new ChunkPayload(payload.Slice(c * cb, cb)), cancellationToken).AsTask());
            if (inflight.Count >= window)
            {
                var done = await Task.WhenAny(inflight).ConfigureAwait(false);
                inflight.Remove(done);
                held += await done.ConfigureAwait(false) ? 1 : 0;
            }
        }

        foreach (var t in inflight)
        {
            held += await t.ConfigureAwait(false) ? 1 : 0;
        }

        return held;
    }

    /// <summary>
    /// Stores one chunk into the first tier that takes it; true when a tier holds it now. The one store flow of both
    /// entry points: with <paramref name="block"/> (the synchronous store) a wait for room below blocks the thread,
    /// else it is awaited; either way it is bounded.
    /// </summary>
    private async ValueTask<bool> StoreOneAsync(bool block, KvLayout layout, ChunkKey key, ChunkKey? parent, ChunkPayload chunk, CancellationToken ct)
    {
        _sightings?.Add(key);
        for (int t = 0; t < _tiers.Length; t++)
        {
            var tier = _tiers[t];
            long t0 = Stopwatch.GetTimestamp();
            bool viaDram = t == 0 && ReferenceEquals(tier, _dram);
            TierWriteStatus s;
            try
            {
                if (viaDram)
                {
                    bool writeThrough = _options.WriteMode == LowerTierWriteMode.WriteThrough;
                    s = await WriteDramFirstRoomAsync(layout, key, parent, chunk, block ? RoomFirst.Block : RoomFirst.Await, writeThrough, ct).ConfigureAwait(false);
                }
                else if (tier is HostMemoryTier dram)
                {
                    s = dram.Write(layout, key, parent, chunk.Span);
                }
                else if (t == _lower && _writeBehind is not null)
                {
                    bool room = WaitsForRoom && (block ? _gate!.Reserve() : await _gate!.ReserveAsync(ct).ConfigureAwait(false));
                    s = WriteBelowDram(layout, key, parent, chunk.Span, room);
                }
                else
                {
                    s = await tier.WriteAsync(layout, key, parent, chunk.Memory, ct).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (MediumFaults.Is(ex, ct))
            {
                Metrics.RecordIoError(_counters[t], "write");
                s = TierWriteStatus.Failed;
            }

            if (s == TierWriteStatus.Stored)
            {
                Metrics.RecordWrite(_counters[t], chunk.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                if (t == 0 && !viaDram && _options.WriteMode == LowerTierWriteMode.WriteThrough)
                {
                    bool none = false;
                    OfferToLower(layout, key, parent, chunk.Span, 0, ref none);
                }

                if (t == 0)
                {
                    await ShareWithRemoteAsync(layout, key, parent, chunk, ct).ConfigureAwait(false);
                }

                return true;
            }

            if (s == TierWriteStatus.AlreadyPresent)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Writes a chunk new to this process to the remote tiers, so other hosts sharing the cluster hit it.</summary>
    private async ValueTask ShareWithRemoteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ChunkPayload chunk, CancellationToken ct)
    {
        foreach (int r in _remoteTiers)
        {
            long t0 = Stopwatch.GetTimestamp();
            try
            {
                if (await _tiers[r].WriteAsync(layout, key, parent, chunk.Memory, ct).ConfigureAwait(false) == TierWriteStatus.Stored)
                {
                    Metrics.RecordWrite(_counters[r], chunk.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                }
            }
            catch (Exception ex) when (MediumFaults.Is(ex, ct))
            {
                Metrics.RecordIoError(_counters[r], "write");
            }
        }
    }

    /// <summary>
    /// Writes into DRAM with <paramref name="roomHeld"/> room below reserved for whatever this write evicts (the
    /// eviction sink, called synchronously on this thread, spends it) or writes through; room left unused goes back.
    /// </summary>
    private TierWriteStatus WriteDram(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> chunk, bool roomHeld, bool writeThrough)
    {
        // The room travels explicitly: DRAM hands it to the eviction sink, which spends it on the chunk it writes back.
        bool held = roomHeld;
        try
        {
            var s = _dram!.Write(layout, key, parent, chunk, ref held);
            if (s == TierWriteStatus.Stored && writeThrough)
            {
                OfferToLower(layout, key, parent, chunk, 0, ref held);
            }

            return s;
        }
        finally
        {
            if (held)
            {
                _gate!.Release();
            }
        }
    }

    /// <summary>
    /// The DRAM write of a store, a prefetch or a promotion, written once. With <see cref="WriteBackOverflow.Wait"/>,
    /// when the write will likely evict (or writes through), room below is reserved first as <paramref name="room"/>
    /// says, before any lock is taken and before anything is evicted, so a waiting write holds no DRAM slot either. A
    /// cancelled wait throws here with DRAM unchanged and nothing evicted, so nothing is lost. Without room, a prefetch
    /// or promotion is skipped (<see cref="TierWriteStatus.NotAdmitted"/>) and the chunk stays where it was.
    /// </summary>
    private async ValueTask<TierWriteStatus> WriteDramFirstRoomAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ChunkPayload chunk, RoomFirst room, bool writeThrough, CancellationToken ct)
    {
        int inFlight = Interlocked.Increment(ref _dramWritesInFlight);
        try
        {
            bool held = false;
            if (NeedsRoomFirst(key, inFlight, writeThrough))
            {
                held = room switch
                {
                    RoomFirst.Block => _gate!.Reserve(),
                    RoomFirst.NowOrSkip => _gate!.TryReserveNow(),
                    _ => await _gate!.ReserveAsync(ct).ConfigureAwait(false),
                };
                if (!held && room is RoomFirst.AwaitOrSkip or RoomFirst.NowOrSkip)
                {
                    return TierWriteStatus.NotAdmitted;
                }
            }

            return WriteDram(layout, key, parent, chunk.Span, held, writeThrough);
        }
        finally
        {
            Interlocked.Decrement(ref _dramWritesInFlight);
        }
    }

    /// <summary>
    /// A store that DRAM could not take (every slot pinned or being written) going straight to the write-behind tier
    /// below. It never waits for the disk without limit, as a plain write would. With <see cref="WriteBackOverflow.Wait"/>
    /// the caller reserved room with the bounded wait (<paramref name="roomHeld"/>); with <see cref="WriteBackOverflow.Shed"/>
    /// it takes room only if there is some now. The chunk is then written in the background; without room it is shed and
    /// counted.
    /// </summary>
    private TierWriteStatus WriteBelowDram(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> chunk, bool roomHeld)
    {
        var lower = _writeBehind!;
        try
        {
            var s = roomHeld ? lower.WriteBehindReserved(layout, key, parent, chunk)
                : WaitsForRoom ? _gate!.Shed()
                : lower.TryWriteBehind(layout, key, parent, chunk);
            if (s == TierWriteStatus.NotAdmitted)
            {
                Interlocked.Increment(ref _shed);
            }

            return s;
        }
        catch (Exception ex) when (MediumFaults.Is(ex, CancellationToken.None))
        {
            Metrics.RecordIoError(_counters[_lower], "write");
            return TierWriteStatus.Failed;
        }
    }

    private static int ValidateStore(KvLayout layout, int keyCount, int payloadLength, int firstChunk)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int cb = layout.ChunkBytes;
        if (payloadLength == 0 || payloadLength % cb != 0)
        {
            throw new ArgumentException($"Only full chunks are stored: the payload has {payloadLength} bytes, not a positive multiple of the layout's chunk size {cb}.", "payload");
        }

        int count = payloadLength / cb;
        if (firstChunk < 0 || firstChunk + count > keyCount)
        {
            throw new ArgumentException($"The payload holds {count} chunks from chunk {firstChunk}, but only {keyCount} keys were given.", "keys");
        }

        return count;
    }
}
