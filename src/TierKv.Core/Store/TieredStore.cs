using TierKv.Tiers.Slots;

namespace TierKv.Store;

/// <summary>
/// Composes tiers in order of speed (DRAM, SSD, remote). <c>Lookup</c> answers how many leading tokens are cached in
/// any tier (chunk 3 may sit in DRAM and chunk 4 on SSD); <c>Retrieve</c> copies the hit chunks into caller buffers,
/// each from the fastest tier that holds it; <c>Store</c> takes full chunks into the first tier. Safe for many
/// concurrent callers; a failing tier is a miss, never an exception.
/// </summary>
public sealed partial class TieredStore : IDisposable
{
    private readonly IKvTier[] _tiers;
    private readonly TierCounters[] _counters;
    private readonly TieredStoreOptions _options;
    private readonly bool _ownsTiers;
    private readonly bool _reportsPins;
    private readonly HostMemoryTier? _dram;
    private readonly int _lower = -1;
    private readonly IWriteBehindTier? _writeBehind;
    private readonly WriteBehindGate? _gate;
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
    private long _promotionsSkipped;
    private int _dramWritesInFlight;

    /// <summary>
    /// Creates a store over <paramref name="tiers"/>, fastest first. Its local tiers obey <paramref name="priorities"/>
    /// (a registry of its own when null; stores that share one, like a tenant's value classes, share pins and their limit).
    /// </summary>
    public TieredStore(IEnumerable<IKvTier> tiers, TierKvMetrics? metrics = null, TieredStoreOptions? options = null, bool ownsTiers = true, ChunkPriorities? priorities = null)
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
        Priorities = priorities ?? new ChunkPriorities();
        _reportsPins = Metrics.AttachPins(_tiers[0].Name, Priorities, () => MaxPinnedBytes);
        foreach (var t in _tiers)
        {
            (t as IPriorityAware)?.AttachPriorities(Priorities);
        }

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
            _gate = new WriteBehindGate(writeBehind, _options, Metrics, _counters[1]);
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
    public long WriteBackWaits => _gate?.WaitCount ?? 0;

    /// <summary>Waits for room in the write queue below DRAM that ran out of time; their chunks are also in <see cref="ShedWrites"/>.</summary>
    public long WriteBackWaitTimeouts => _gate?.WaitTimeouts ?? 0;

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

        if (_reportsPins)
        {
            Metrics.DetachPins(Priorities);
        }

        if (_ownsTiers)
        {
            foreach (var t in _tiers)
            {
                t.Dispose();
            }
        }
    }
}
