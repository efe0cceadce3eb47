using System.Buffers;
using System.Diagnostics;
using TierKv.Keys;
using TierKv.Memory;
using TierKv.Metrics;
using TierKv.Tiers;

namespace TierKv.Store;

/// <summary>
/// Composes tiers in order of speed (DRAM, SSD, remote). <c>Lookup</c> answers how many leading tokens are cached in
/// any tier (chunk 3 may sit in DRAM and chunk 4 on SSD); <c>Retrieve</c> copies the hit chunks into caller buffers,
/// each from the fastest tier that holds it; <c>Store</c> takes full chunks into the first tier. Safe for many
/// concurrent callers; a failing tier is a miss, never an exception.
/// </summary>
public sealed partial class TieredStore : IDisposable
{
    /// <summary>
    /// The store whose DRAM write now running on this thread holds room in the write-behind queue, reserved before the
    /// write (without any lock) for the chunk that write may evict; the eviction sink, called synchronously on the same
    /// thread, spends it. Thread-static because the sink has no other way to know which call it runs inside.
    /// </summary>
    [ThreadStatic]
    private static TieredStore? t_roomHeldBy;

    private readonly IKvTier[] _tiers;
    private readonly TierCounters[] _counters;
    private readonly TieredStoreOptions _options;
    private readonly bool _ownsTiers;
    private readonly HostMemoryTier? _dram;
    private readonly int _lower = -1;
    private readonly IWriteBehindTier? _writeBehind;
    private readonly int[] _remoteTiers;
    private readonly SightingCounter? _sightings;
    private readonly SemaphoreSlim _prefetchPermits;
    private readonly System.Collections.Concurrent.ConcurrentBag<(nint Pointer, int Bytes)> _prefetchBuffers = [];
    private int _queuedPrefetches;
    private long _promotions;
    private long _writtenBack;
    private long _shed;
    private long _notAdmitted;
    private long _prefetched;
    private long _prefetchShed;
    private long _writeBackWaits;
    private long _writeBackWaitTimeouts;
    private long _promotionsSkipped;
    private int _dramWritesInFlight;
    private int _waitTripped;

    /// <summary>Creates a store over <paramref name="tiers"/>, fastest first.</summary>
    public TieredStore(IEnumerable<IKvTier> tiers, TierKvMetrics? metrics = null, TieredStoreOptions? options = null, bool ownsTiers = true)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        _tiers = [.. tiers];
        if (_tiers.Length == 0)
        {
            throw new ArgumentException("A tiered store needs at least one tier.", nameof(tiers));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in _tiers)
        {
            if (!names.Add(t.Name))
            {
                throw new ArgumentException($"Two tiers are named '{t.Name}'; tier names must be unique.", nameof(tiers));
            }
        }

        _options = options ?? new TieredStoreOptions();
        _options.Validate();
        Metrics = metrics ?? new TierKvMetrics();
        _counters = new TierCounters[_tiers.Length];
        for (int i = 0; i < _tiers.Length; i++)
        {
            var t = _tiers[i];
            (t as IMetricsAware)?.AttachMetrics(Metrics);
            _counters[i] = Metrics.ForTier(t.Name);
            _counters[i].Usage ??= () => (t.CapacityBytes, t.UsedBytes, t.ChunkCount);
        }

        _ownsTiers = ownsTiers;
        _prefetchPermits = new SemaphoreSlim(_options.MaxPrefetchesInFlight, _options.MaxPrefetchesInFlight);
        _dram = _tiers[0] as HostMemoryTier;
        var remotes = new List<int>();
        for (int i = 1; i < _tiers.Length && _options.ShareWithRemote; i++)
        {
            if (_tiers[i].Kind == TierKind.Remote)
            {
                remotes.Add(i);
            }
        }

        _remoteTiers = [.. remotes];
        if (_tiers.Length > 1 && _tiers[1] is IWriteBehindTier writeBehind)
        {
            _lower = 1;
            _writeBehind = writeBehind;
        }

        if (_options.Admission == LowerTierAdmission.SeenTwice)
        {
            _sightings = new SightingCounter(_options.AdmissionFilterSlots);
        }

        if (_dram is not null && _writeBehind is not null)
        {
            _version = _writeBehind.MaxVersion;
            if (_dram.EvictionSink is null)
            {
                // With write-through too: a chunk whose copy below was shed (or failed) gets a second chance on eviction.
                _dram.EvictionSink = new WriteBackSink(this);
            }
            else if (_options.WriteMode == LowerTierWriteMode.WriteBack)
            {
                throw new ArgumentException($"The DRAM tier '{_dram.Name}' already has an eviction sink; a tiered store with write-back needs to own it.", nameof(tiers));
            }
        }
    }

    /// <summary>Settings in use.</summary>
    public TieredStoreOptions Options => _options;

    /// <summary>Chunks served by a slower tier and copied into DRAM.</summary>
    public long Promotions => Interlocked.Read(ref _promotions);

    /// <summary>Chunks handed to the tier below DRAM (write-back or write-through).</summary>
    public long WrittenBack => Interlocked.Read(ref _writtenBack);

    /// <summary>
    /// Chunks for the tier below DRAM that were shed because its write queue was full: at once with
    /// <see cref="WriteBackOverflow.Shed"/>, after <see cref="TieredStoreOptions.WriteBackWaitTimeout"/> (or at once
    /// while a timeout is unresolved) with <see cref="WriteBackOverflow.Wait"/>.
    /// </summary>
    public long ShedWrites => Interlocked.Read(ref _shed);

    /// <summary>Chunks for the tier below DRAM that found its write queue full and waited for room (<see cref="WriteBackOverflow.Wait"/>).</summary>
    public long WriteBackWaits => Interlocked.Read(ref _writeBackWaits);

    /// <summary>Waits for room in the write queue below DRAM that ran out of time; their chunks are also in <see cref="ShedWrites"/>.</summary>
    public long WriteBackWaitTimeouts => Interlocked.Read(ref _writeBackWaitTimeouts);

    /// <summary>
    /// Promotions not made because DRAM would have had to evict a chunk while the write queue below had no room for it
    /// (<see cref="WriteBackOverflow.Wait"/>): a retrieve never waits for writes, and the chunk stays where it was.
    /// </summary>
    public long PromotionsSkipped => Interlocked.Read(ref _promotionsSkipped);

    /// <summary>Chunks the admission policy kept off the tier below DRAM.</summary>
    public long NotAdmitted => Interlocked.Read(ref _notAdmitted);

    /// <summary>Chunks that prefetches moved into DRAM.</summary>
    public long Prefetched => Interlocked.Read(ref _prefetched);

    /// <summary>Prefetch chunks shed because the prefetch queue was full.</summary>
    public long PrefetchShed => Interlocked.Read(ref _prefetchShed);

    /// <summary>The tiers, fastest first.</summary>
    public IReadOnlyList<IKvTier> Tiers => _tiers;

    /// <summary>The store's metrics.</summary>
    public TierKvMetrics Metrics { get; }

    /// <summary>
    /// The number of leading tokens of <paramref name="tokens"/> whose chunks are cached in a tier with a local index
    /// (hashes the tokens; engines that ask repeatedly should keep the keys and call the key overload).
    /// </summary>
    public int Lookup(KvLayout layout, TenantSalt salt, ReadOnlySpan<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = PrefixHasher.FullChunks(layout, tokens.Length);
        ChunkKey[]? rented = null;
        Span<ChunkKey> keys = n <= 256 ? stackalloc ChunkKey[n] : (rented = ArrayPool<ChunkKey>.Shared.Rent(n)).AsSpan(0, n);
        try
        {
            PrefixHasher.ComputeKeys(layout, salt, tokens, keys);
            return Lookup(layout, keys, tokens.Length);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<ChunkKey>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The number of leading tokens whose chunks (<paramref name="keys"/>) are cached in a tier with a local index.</summary>
    public int Lookup(KvLayout layout, ReadOnlySpan<ChunkKey> keys) => Lookup(layout, keys, keys.Length * layout.TokensPerChunk);

    /// <summary>
    /// Finds, for each leading chunk, the index of the fastest local tier holding it; returns the number of leading
    /// chunks found. <paramref name="tierOfChunk"/> must hold <paramref name="keys"/>.Length entries.
    /// </summary>
    public int LocateChunks(ReadOnlySpan<ChunkKey> keys, Span<int> tierOfChunk)
    {
        if (tierOfChunk.Length < keys.Length)
        {
            throw new ArgumentException("tierOfChunk must have one entry per key.", nameof(tierOfChunk));
        }

        for (int i = 0; i < keys.Length; i++)
        {
            int found = -1;
            for (int t = 0; t < _tiers.Length; t++)
            {
                var tier = _tiers[t];
                if (tier.HasLocalIndex && tier.Contains(keys[i]))
                {
                    found = t;
                    break;
                }
            }

            if (found < 0)
            {
                return i;
            }

            tierOfChunk[i] = found;
        }

        return keys.Length;
    }

    /// <summary>
    /// Like <see cref="Lookup(KvLayout, ReadOnlySpan{ChunkKey})"/> but also asks tiers without a local index (the
    /// remote tier) with one batched existence query each, for the chunks the local tiers do not hold.
    /// </summary>
    public async ValueTask<int> LookupAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = keys.Length;
        int[] where = ArrayPool<int>.Shared.Rent(Math.Max(n, 1));
        bool[]? present = null;
        try
        {
            int local = LocateChunks(keys.Span, where);
            int hit = local;
            if (local < n)
            {
                present = ArrayPool<bool>.Shared.Rent(n - local);
                for (int t = 0; t < _tiers.Length && hit < n; t++)
                {
                    if (_tiers[t].HasLocalIndex)
                    {
                        continue;
                    }

                    var rest = keys[hit..];
                    var p = present.AsMemory(0, rest.Length);
                    await _tiers[t].ExistsAsync(layout, rest, p, cancellationToken).ConfigureAwait(false);
                    int run = 0;
                    while (run < rest.Length && present[run])
                    {
                        where[hit + run] = t;
                        run++;
                    }

                    hit += run;
                }
            }

            RecordLookup(layout, n * layout.TokensPerChunk, where.AsSpan(0, hit));
            return hit * layout.TokensPerChunk;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(where);
            if (present is not null)
            {
                ArrayPool<bool>.Shared.Return(present);
            }
        }
    }

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
    /// beyond <paramref name="keys"/>.
    /// </summary>
    public int Store(KvLayout layout, ReadOnlySpan<ChunkKey> keys, ReadOnlySpan<byte> payload, int firstChunk = 0)
    {
        int count = ValidateStore(layout, keys.Length, payload.Length, firstChunk);
        int cb = layout.ChunkBytes;
        int held = 0;
        for (int c = 0; c < count; c++)
        {
            int i = firstChunk + c;
            ChunkKey? parent = i > 0 ? keys[i - 1] : null;
            if (StoreOne(layout, keys[i], parent, payload.Slice(c * cb, cb)))
            {
                held++;
            }
        }

        return held;
    }

    /// <summary>Asynchronous <see cref="Store(KvLayout, ReadOnlySpan{ChunkKey}, ReadOnlySpan{byte}, int)"/>.</summary>
    public async ValueTask<int> StoreAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, ReadOnlyMemory<byte> payload, int firstChunk = 0, CancellationToken cancellationToken = default)
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
            inflight.Add(StoreOneAsync(layout, keys.Span[i], parent, payload.Slice(c * cb, cb), cancellationToken));
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

    /// <summary>
    /// Writes every DRAM-resident chunk that the tier below DRAM lacks down to it and waits for all background
    /// writes: after it, a restarted process finds everything this one held. Returns the chunks written.
    /// </summary>
    public async Task<int> PersistAsync(CancellationToken cancellationToken = default)
    {
        if (_dram is null || _writeBehind is not { } lower)
        {
            return 0;
        }

        int written = 0;
        foreach (var key in _dram.ResidentKeys())
        {
            if (!_dram.TryDescribe(key, out var layout, out var parent, out long version) || HoldsBelow(lower, key, version))
            {
                continue;
            }

            // At shutdown every copy counts: wait for room as long as it takes (the writes below always complete).
            if (!await lower.ReserveWriteBehindAsync(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            if (!_dram.TryAcquire(key, out var lease))
            {
                lower.ReleaseWriteBehindReservation();
                continue;
            }

            try
            {
                var s = lower.WriteBehindReserved(layout!, key, parent, lease.Span, lease.Version);
                if (s == TierWriteStatus.Stored)
                {
                    written++;
                    Metrics.RecordWrite(_counters[_lower], lease.Length, 0);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not ArgumentException)
            {
                Metrics.RecordIoError(_counters[_lower], "write");
            }
            finally
            {
                lease.Dispose();
            }
        }

        await DrainAsync(cancellationToken).ConfigureAwait(false);
        return written;
    }

    /// <summary>Completes when every background write to slower tiers started so far has finished.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        foreach (var t in _tiers)
        {
            if (t is IWriteBehindTier w)
            {
                await w.DrainAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Deletes a chunk from every tier; returns whether any tier held it.</summary>
    public async ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        bool any = false;
        foreach (var t in _tiers)
        {
            any |= await t.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
        }

        return any;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        while (_prefetchBuffers.TryTake(out var b))
        {
            FreeNative(b.Pointer);
        }

        if (_options.PersistOnDispose && _lower > 0)
        {
            try
            {
                PersistAsync().GetAwaiter().GetResult();
            }
            catch (ObjectDisposedException)
            {
                // A tier was disposed first by its owner: nothing left to persist into.
            }
        }

        if (_ownsTiers)
        {
            foreach (var t in _tiers)
            {
                t.Dispose();
            }
        }
    }

    private int Lookup(KvLayout layout, ReadOnlySpan<ChunkKey> keys, int requestedTokens)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = keys.Length;
        int[]? rented = null;
        Span<int> where = n <= 1024 ? stackalloc int[n] : (rented = ArrayPool<int>.Shared.Rent(n)).AsSpan(0, n);
        try
        {
            int hit = LocateChunks(keys, where);
            RecordLookup(layout, requestedTokens, where[..hit]);
            return hit * layout.TokensPerChunk;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private void RecordLookup(KvLayout layout, long requestedTokens, ReadOnlySpan<int> where)
    {
        Metrics.RecordLookup(requestedTokens);
        Span<int> perTier = stackalloc int[_tiers.Length];
        foreach (int t in where)
        {
            perTier[t]++;
        }

        for (int t = 0; t < perTier.Length; t++)
        {
            if (perTier[t] > 0)
            {
                Metrics.RecordHitTokens(_counters[t], (long)perTier[t] * layout.TokensPerChunk);
            }
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
            catch (Exception ex) when (ex is not OperationCanceledException && ex is not ArgumentException)
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
                    // Promotion: the verified payload is in the caller's buffer now; DRAM keeps a copy.
                    if (Promote(layout, key, parent, destination.Span))
                    {
                        Interlocked.Increment(ref _promotions);
                    }
                }

                return;
            }

            status[idx] = s;
        }
    }

    private bool StoreOne(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> chunk)
    {
        _sightings?.Add(key);
        for (int t = 0; t < _tiers.Length; t++)
        {
            var tier = _tiers[t];
            long t0 = Stopwatch.GetTimestamp();
            bool viaDram = t == 0 && ReferenceEquals(tier, _dram);
            TierWriteStatus s;
            if (viaDram)
            {
                s = StoreInDram(layout, key, parent, chunk);
            }
            else if (tier is HostMemoryTier dram)
            {
                s = dram.Write(layout, key, parent, chunk);
            }
            else if (t == _lower && _writeBehind is not null)
            {
                s = WriteBelowDram(layout, key, parent, chunk, WaitsForRoom && ReserveRoom());
            }
            else
            {
                s = WriteSlow(tier, layout, key, parent, chunk);
            }

            if (s == TierWriteStatus.Stored)
            {
                Metrics.RecordWrite(_counters[t], chunk.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                if (t == 0 && !viaDram && _options.WriteMode == LowerTierWriteMode.WriteThrough)
                {
                    OfferToLower(layout, key, parent, chunk);
                }

                if (t == 0 && _remoteTiers.Length > 0)
                {
                    foreach (int r in _remoteTiers)
                    {
                        long r0 = Stopwatch.GetTimestamp();
                        if (WriteSlow(_tiers[r], layout, key, parent, chunk) == TierWriteStatus.Stored)
                        {
                            Metrics.RecordWrite(_counters[r], chunk.Length, Stopwatch.GetElapsedTime(r0).TotalSeconds);
                        }
                    }
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

    private static unsafe TierWriteStatus WriteSlow(IKvTier tier, KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> chunk)
    {
        fixed (byte* p = chunk)
        {
            using var mm = new NativeMemoryManager((nint)p, chunk.Length);
            try
            {
                return tier.WriteAsync(layout, key, parent, mm.Memory).AsTask().GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is not ArgumentException and not ObjectDisposedException)
            {
                return TierWriteStatus.Failed;
            }
        }
    }

    private async Task<bool> StoreOneAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> chunk, CancellationToken ct)
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
                    s = await StoreInDramAsync(layout, key, parent, chunk, ct).ConfigureAwait(false);
                }
                else if (t == _lower && _writeBehind is not null)
                {
                    bool room = WaitsForRoom && await ReserveRoomAsync(ct).ConfigureAwait(false);
                    s = WriteBelowDram(layout, key, parent, chunk.Span, room);
                }
                else
                {
                    s = await tier.WriteAsync(layout, key, parent, chunk, ct).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not ArgumentException and not ObjectDisposedException and not OperationCanceledException)
            {
                Metrics.RecordIoError(_counters[t], "write");
                s = TierWriteStatus.Failed;
            }

            if (s == TierWriteStatus.Stored)
            {
                Metrics.RecordWrite(_counters[t], chunk.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                if (t == 0 && !viaDram && _options.WriteMode == LowerTierWriteMode.WriteThrough)
                {
                    OfferToLower(layout, key, parent, chunk.Span);
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
    private async ValueTask ShareWithRemoteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> chunk, CancellationToken ct)
    {
        foreach (int r in _remoteTiers)
        {
            long t0 = Stopwatch.GetTimestamp();
            try
            {
                if (await _tiers[r].WriteAsync(layout, key, parent, chunk, ct).ConfigureAwait(false) == TierWriteStatus.Stored)
                {
                    Metrics.RecordWrite(_counters[r], chunk.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                }
            }
            catch (Exception ex) when (ex is not ArgumentException and not OperationCanceledException)
            {
                Metrics.RecordIoError(_counters[r], "write");
            }
        }
    }

    /// <summary>
    /// Hands a chunk leaving (write-back) or entering (write-through) DRAM to the tier below, if admitted. Runs on the
    /// writer's thread outside every lock (the DRAM tier calls its eviction sink after releasing its lock), so with
    /// <see cref="WriteBackOverflow.Wait"/> it may block here, bounded, when no room was reserved beforehand.
    /// </summary>
    private void OfferToLower(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version = 0)
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
            if (ReferenceEquals(t_roomHeldBy, this))
            {
                t_roomHeldBy = null;
                s = lower.WriteBehindReserved(layout, key, parent, payload, version);
            }
            else if (_options.WriteBackOverflow == WriteBackOverflow.Wait)
            {
                // No room reserved beforehand (a writer using the DRAM tier directly, or an eviction the estimate did
                // not foresee because another writer took the free slot first): wait here, bounded; no lock is held.
                s = ReserveRoom() ? lower.WriteBehindReserved(layout, key, parent, payload, version) : ShedForNoRoom();
            }
            else
            {
                s = lower.TryWriteBehind(layout, key, parent, payload, version);
            }
        }
        catch (Exception ex) when (ex is not ArgumentException)
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

    private bool WaitsForRoom => _writeBehind is not null && _options.WriteBackOverflow == WriteBackOverflow.Wait;

    /// <summary>
    /// Whether a DRAM write of <paramref name="key"/> should reserve room below before it starts: with
    /// <see cref="WriteBackOverflow.Wait"/>, when it writes through or will likely evict (an estimate: a write the
    /// estimate misses waits in the eviction sink instead).
    /// </summary>
    private bool NeedsRoomFirst(in ChunkKey key, int dramWritesInFlight, bool writeThrough) =>
        WaitsForRoom && !_dram!.Contains(key) && (writeThrough || DramWriteMayEvict(dramWritesInFlight));

    /// <summary>How long to wait for room now: not at all while a timeout is unresolved (a hung disk costs one timeout).</summary>
    private TimeSpan RoomWait => Volatile.Read(ref _waitTripped) != 0 ? TimeSpan.Zero : _options.WriteBackWaitTimeout;

    private void RoomFound()
    {
        if (Volatile.Read(ref _waitTripped) != 0)
        {
            Volatile.Write(ref _waitTripped, 0);
        }
    }

    private void RoomTimedOut()
    {
        Interlocked.Increment(ref _writeBackWaitTimeouts);
        Metrics.RecordWriteBackWait(timedOut: true);
        Volatile.Write(ref _waitTripped, 1);
    }

    /// <summary>A chunk for the tier below that found no room in time: shed and counted.</summary>
    private TierWriteStatus ShedForNoRoom()
    {
        Metrics.RecordRejection(_counters[_lower], "queue_full");
        return TierWriteStatus.NotAdmitted;
    }

    /// <summary>Reserves room below, blocking the calling thread at most <see cref="RoomWait"/>; false when there is none.</summary>
    private bool ReserveRoom()
    {
        var lower = _writeBehind!;
        if (lower.ReserveWriteBehind(TimeSpan.Zero))
        {
            RoomFound();
            return true;
        }

        var wait = RoomWait;
        if (wait == TimeSpan.Zero)
        {
            return false;
        }

        Interlocked.Increment(ref _writeBackWaits);
        if (lower.ReserveWriteBehind(wait))
        {
            RoomFound();
            Metrics.RecordWriteBackWait(timedOut: false);
            return true;
        }

        RoomTimedOut();
        return false;
    }

    /// <summary>
    /// Reserves room below, awaiting it at most <see cref="RoomWait"/> without blocking a thread; false when there is
    /// none. Throws <see cref="OperationCanceledException"/> when <paramref name="ct"/> fires (nothing held then).
    /// </summary>
    private async ValueTask<bool> ReserveRoomAsync(CancellationToken ct)
    {
        var lower = _writeBehind!;
        if (await lower.ReserveWriteBehindAsync(TimeSpan.Zero, ct).ConfigureAwait(false))
        {
            RoomFound();
            return true;
        }

        var wait = RoomWait;
        if (wait == TimeSpan.Zero)
        {
            return false;
        }

        Interlocked.Increment(ref _writeBackWaits);
        if (await lower.ReserveWriteBehindAsync(wait, ct).ConfigureAwait(false))
        {
            RoomFound();
            Metrics.RecordWriteBackWait(timedOut: false);
            return true;
        }

        RoomTimedOut();
        return false;
    }

    /// <summary>
    /// Writes into DRAM with <paramref name="roomHeld"/> room below reserved for whatever this write evicts (the
    /// eviction sink, called synchronously on this thread, spends it) or writes through; room left unused goes back.
    /// </summary>
    private TierWriteStatus WriteDram(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> chunk, bool roomHeld, bool writeThrough)
    {
        t_roomHeldBy = roomHeld ? this : null;
        try
        {
            var s = _dram!.Write(layout, key, parent, chunk);
            if (s == TierWriteStatus.Stored && writeThrough)
            {
                OfferToLower(layout, key, parent, chunk);
            }

            return s;
        }
        finally
        {
            if (ReferenceEquals(t_roomHeldBy, this))
            {
                t_roomHeldBy = null;
                _writeBehind!.ReleaseWriteBehindReservation();
            }
        }
    }

    /// <summary>
    /// The DRAM write of a synchronous store. With <see cref="WriteBackOverflow.Wait"/>, when the write will likely
    /// evict (or writes through), room below is waited for first, bounded, before any lock is taken and before
    /// anything is evicted, so a waiting store holds no DRAM slot either.
    /// </summary>
    private TierWriteStatus StoreInDram(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> chunk)
    {
        int inFlight = Interlocked.Increment(ref _dramWritesInFlight);
        try
        {
            bool writeThrough = _options.WriteMode == LowerTierWriteMode.WriteThrough;
            bool held = NeedsRoomFirst(key, inFlight, writeThrough) && ReserveRoom();
            return WriteDram(layout, key, parent, chunk, held, writeThrough);
        }
        finally
        {
            Interlocked.Decrement(ref _dramWritesInFlight);
        }
    }

    /// <summary>
    /// The DRAM write of an asynchronous store: like <see cref="StoreInDram"/>, but the wait for room is awaited (no
    /// thread blocked). A cancelled wait throws here with DRAM unchanged and nothing evicted, so nothing is lost.
    /// </summary>
    private async ValueTask<TierWriteStatus> StoreInDramAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> chunk, CancellationToken ct)
    {
        int inFlight = Interlocked.Increment(ref _dramWritesInFlight);
        try
        {
            bool writeThrough = _options.WriteMode == LowerTierWriteMode.WriteThrough;
            bool held = NeedsRoomFirst(key, inFlight, writeThrough) && await ReserveRoomAsync(ct).ConfigureAwait(false);
            return WriteDram(layout, key, parent, chunk.Span, held, writeThrough);
        }
        finally
        {
            Interlocked.Decrement(ref _dramWritesInFlight);
        }
    }

    /// <summary>
    /// The DRAM write of a promotion. A retrieve never waits for writes: with <see cref="WriteBackOverflow.Wait"/>, when
    /// the promotion would evict and the queue below has no room right now, it is skipped (counted) and the chunk stays
    /// in the slower tier, instead of pushing a DRAM chunk out to be shed.
    /// </summary>
    private bool Promote(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload)
    {
        int inFlight = Interlocked.Increment(ref _dramWritesInFlight);
        try
        {
            bool held = false;
            if (NeedsRoomFirst(key, inFlight, writeThrough: false))
            {
                held = _writeBehind!.ReserveWriteBehind(TimeSpan.Zero);
                if (!held)
                {
                    Interlocked.Increment(ref _promotionsSkipped);
                    Metrics.RecordPromotionSkipped();
                    return false;
                }
            }

            return WriteDram(layout, key, parent, payload, held, writeThrough: false) == TierWriteStatus.Stored;
        }
        finally
        {
            Interlocked.Decrement(ref _dramWritesInFlight);
        }
    }

    /// <summary>The DRAM write of a prefetch: like a store's (it may await room), but without room in time it is skipped (the chunk stays below).</summary>
    private async ValueTask<TierWriteStatus> PrefetchIntoDramAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> chunk, CancellationToken ct)
    {
        int inFlight = Interlocked.Increment(ref _dramWritesInFlight);
        try
        {
            bool held = false;
            if (NeedsRoomFirst(key, inFlight, writeThrough: false))
            {
                held = await ReserveRoomAsync(ct).ConfigureAwait(false);
                if (!held)
                {
                    return TierWriteStatus.NotAdmitted;
                }
            }

            return WriteDram(layout, key, parent, chunk.Span, held, writeThrough: false);
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
                : WaitsForRoom ? ShedForNoRoom()
                : lower.TryWriteBehind(layout, key, parent, chunk);
            if (s == TierWriteStatus.NotAdmitted)
            {
                Interlocked.Increment(ref _shed);
            }

            return s;
        }
        catch (Exception ex) when (ex is not ArgumentException and not ObjectDisposedException)
        {
            Metrics.RecordIoError(_counters[_lower], "write");
            return TierWriteStatus.Failed;
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
            var w = await PrefetchIntoDramAsync(layout, key, parent, mm.Memory, ct).ConfigureAwait(false);
            if (w == TierWriteStatus.Stored)
            {
                Interlocked.Increment(ref _prefetched);
            }

            return w is TierWriteStatus.Stored or TierWriteStatus.AlreadyPresent;
        }
        catch (Exception ex) when (ex is not ArgumentException)
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

    /// <summary>DRAM's eviction callback: hands the evicted chunk to the tier below while its bytes are intact.</summary>
    private sealed class WriteBackSink(TieredStore store) : IEvictionSink
    {
        public void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version) =>
            store.OfferToLower(layout, key, parent, payload, version);
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
