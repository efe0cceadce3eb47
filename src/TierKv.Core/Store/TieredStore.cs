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
public sealed class TieredStore : IDisposable
{
    private readonly IKvTier[] _tiers;
    private readonly TierCounters[] _counters;
    private readonly TieredStoreOptions _options;
    private readonly bool _ownsTiers;
    private readonly HostMemoryTier? _dram;
    private readonly int _lower = -1;
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
        if (_tiers.Length > 1 && _tiers[1] is IWriteBehindTier)
        {
            _lower = 1;
        }

        if (_options.Admission == LowerTierAdmission.SeenTwice)
        {
            _sightings = new SightingCounter(_options.AdmissionFilterSlots);
        }

        if (_dram is not null && _lower > 0 && _options.WriteMode == LowerTierWriteMode.WriteBack)
        {
            if (_dram.EvictionSink is not null)
            {
                throw new ArgumentException($"The DRAM tier '{_dram.Name}' already has an eviction sink; a tiered store with write-back needs to own it.", nameof(tiers));
            }

            _dram.EvictionSink = new WriteBackSink(this);
        }
    }

    /// <summary>Settings in use.</summary>
    public TieredStoreOptions Options => _options;

    /// <summary>Chunks served by a slower tier and copied into DRAM.</summary>
    public long Promotions => Interlocked.Read(ref _promotions);

    /// <summary>Chunks handed to the tier below DRAM (write-back or write-through).</summary>
    public long WrittenBack => Interlocked.Read(ref _writtenBack);

    /// <summary>Chunks the tier below DRAM shed because its write queue was full.</summary>
    public long ShedWrites => Interlocked.Read(ref _shed);

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
            for (int k = 0; k < n; k++)
            {
                int idx = k;
                ChunkKey? parent = idx > 0 ? keys.Span[idx - 1] : null;
                inflight.Add(ReadOneAsync(layout, keys.Span[idx], parent, where[idx], destination.Slice(idx * cb, cb), status, idx, servedBy, cancellationToken));
                if (inflight.Count >= window)
                {
                    var done = await Task.WhenAny(inflight).ConfigureAwait(false);
                    inflight.Remove(done);
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
        if (_dram is null || _lower < 0)
        {
            return 0;
        }

        var lower = _tiers[_lower];
        int written = 0;
        foreach (var key in _dram.ResidentKeys())
        {
            if (lower.Contains(key) || !_dram.TryDescribe(key, out var layout, out var parent) || !_dram.TryAcquire(key, out var lease))
            {
                continue;
            }

            try
            {
                using var mm = new NativeMemoryManager(lease.Pointer, lease.Length);
                var s = await lower.WriteAsync(layout!, key, parent, mm.Memory, cancellationToken).ConfigureAwait(false);
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
                    if (_dram.Write(layout, key, parent, destination.Span) == TierWriteStatus.Stored)
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
            TierWriteStatus s;
            if (tier is HostMemoryTier dram)
            {
                s = dram.Write(layout, key, parent, chunk);
            }
            else
            {
                s = WriteSlow(tier, layout, key, parent, chunk);
            }

            if (s == TierWriteStatus.Stored)
            {
                Metrics.RecordWrite(_counters[t], chunk.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                if (t == 0 && _options.WriteMode == LowerTierWriteMode.WriteThrough)
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
            TierWriteStatus s;
            try
            {
                s = await tier.WriteAsync(layout, key, parent, chunk, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not ArgumentException and not ObjectDisposedException and not OperationCanceledException)
            {
                Metrics.RecordIoError(_counters[t], "write");
                s = TierWriteStatus.Failed;
            }

            if (s == TierWriteStatus.Stored)
            {
                Metrics.RecordWrite(_counters[t], chunk.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                if (t == 0 && _options.WriteMode == LowerTierWriteMode.WriteThrough)
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

    /// <summary>Hands a chunk leaving (write-back) or entering (write-through) DRAM to the tier below, if admitted.</summary>
    private void OfferToLower(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload)
    {
        if (_lower < 0 || _tiers[_lower] is not IWriteBehindTier lower || lower.Contains(key))
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
            s = lower.TryWriteBehind(layout, key, parent, payload);
        }
        catch (Exception ex) when (ex is not ArgumentException)
        {
            Metrics.RecordIoError(_counters[_lower], "write");
            return;
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
            var w = _dram!.Write(layout, key, parent, mm.Memory.Span);
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
        public void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload) =>
            store.OfferToLower(layout, key, parent, payload);
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
