namespace TierKv.Curves;

/// <summary>
/// Estimates, while a tier serves, the prefix-hit ratio it would have at other sizes and under other eviction policies
/// (docs/analysis.md's semantics), from the tier's own accesses, with memory fixed at construction
/// (<see cref="MemoryBytes"/>).
/// </summary>
/// <remarks>
/// <para>
/// Sampling follows SHARDS (Waldspurger et al., FAST'15): whole prefix families are picked by a hash
/// (<see cref="FamilySampler"/>), so every sampled request's chain is complete, and each simulated size is scaled by the
/// sampling rate. LRU's curve comes from one recency list cut at every size (<see cref="LruStackCurve"/>), at rate
/// <c>min(1, MaxTrackedKeys / largest size)</c>. Every other policy runs as a miniature cache per size
/// (<see cref="MiniatureCache"/>, the real policy class) at <see cref="MissRatioCurveOptions.PolicySampleRate"/>, next
/// to a miniature LRU on the same families; its estimate is LRU's curve plus its miniature's difference from that
/// miniature LRU. The difference varies far less between samples than the hit ratio itself (the same families are hot
/// or cold for both), which is what lets a small sample be accurate when a trace has few families.
/// </para>
/// <para>
/// Concurrency: <see cref="Observe"/> is called by the tier under its lock (one producer). With
/// <see cref="MissRatioCurveOptions.Background"/> it only appends the access to a ring that a thread of the estimator's
/// own simulates (MissRatioCurveEstimator.Background.cs); otherwise it simulates inline. Readers
/// (<see cref="Snapshot"/>, <see cref="Flush"/>) first simulate every access observed before they were called, then
/// read under the estimator's drain lock.
/// </para>
/// </remarks>
public sealed partial class MissRatioCurveEstimator
{
    private readonly FamilySampler _sampler;
    private readonly LruStackCurve _lru;
    private readonly ulong _lruThreshold;
    private readonly ulong _policyThreshold;
    private readonly int[] _order;
    private readonly double[] _multiples;
    private readonly long[] _sizes;
    private readonly string[] _policies;
    private readonly MiniatureCache[] _minis;
    private readonly MiniatureCache[] _miniLru;
    private readonly bool _allToLru;
    private long _observed;

    /// <summary>An estimator for a tier of <paramref name="capacity"/> slots whose policy is <paramref name="tierPolicy"/>.</summary>
    public MissRatioCurveEstimator(MissRatioCurveOptions options, int capacity, string tierPolicy)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(tierPolicy);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        options.Validate();
        Capacity = capacity;
        int k = options.Multiples.Count;
        _multiples = new double[k];
        _sizes = new long[k];
        _order = new int[k];
        for (int i = 0; i < k; i++)
        {
            _order[i] = i;
        }

        var m = options.Multiples;
        Array.Sort(_order, (a, b) => m[a].CompareTo(m[b]));
        for (int i = 0; i < k; i++)
        {
            _multiples[i] = m[_order[i]];
            _sizes[i] = Math.Max(1, (long)Math.Round(_multiples[i] * capacity));
        }

        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long largest = _sizes[k - 1];
        LruSampleRate = Math.Min(1.0, (double)options.MaxTrackedKeys / largest);
        _lruThreshold = Threshold(LruSampleRate);
        var lruSizes = new int[k];
        for (int i = 0; i < k; i++)
        {
            lruSizes[i] = (int)Math.Max(1, Math.Round(_sizes[i] * LruSampleRate));
        }

        _lru = new LruStackCurve(lruSizes);

        var names = new List<string>();
        foreach (string p in options.Policies ?? [tierPolicy])
        {
            string name = p.ToLowerInvariant();
            if (name != "lru" && !names.Contains(name))
            {
                names.Add(name);
            }
        }

        _policies = [.. names];
        double rate = Math.Min(options.PolicySampleRate, LruSampleRate);
        while (_policies.Length > 0 && rate > 1.0 / 65536 && MiniSlots(rate) * (_policies.Length + 1) > options.MaxPolicySlots)
        {
            rate /= 2;
        }

        PolicySampleRate = _policies.Length == 0 ? 0 : rate;
        _policyThreshold = Threshold(PolicySampleRate);
        _minis = new MiniatureCache[_policies.Length * k];
        _miniLru = new MiniatureCache[_policies.Length == 0 ? 0 : k];
        for (int i = 0; i < _miniLru.Length; i++)
        {
            _miniLru[i] = new MiniatureCache("lru", MiniSize(i));
            for (int p = 0; p < _policies.Length; p++)
            {
                _minis[(p * k) + i] = new MiniatureCache(_policies[p], MiniSize(i));
            }
        }

        _sampler = new FamilySampler(options.Seed, _lruThreshold);
        _allToLru = _lruThreshold == ulong.MaxValue && _policies.Length == 0;
        if (options.Background)
        {
            _ring = new ObservationRing(options.RingEntries);
            _wakeMask = Math.Max(1, options.RingEntries / 4) - 1;
            _batch = Math.Max(1, Math.Min(MaxBatch, options.RingEntries / 2));
            _wake = new SemaphoreSlim(0);
            _worker = new Thread(Work, WorkerStackBytes) { IsBackground = true, Name = "tierkv curves" };
        }

        // Everything is allocated here, once: what this thread allocated is the estimator's memory.
        MemoryBytes = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        _worker?.Start();
    }

    /// <summary>The tier's capacity in slots.</summary>
    public int Capacity { get; }

    /// <summary>Share of prefix families LRU's curve simulates.</summary>
    public double LruSampleRate { get; }

    /// <summary>Share of prefix families the other policies' miniature caches simulate (0 when there are none).</summary>
    public double PolicySampleRate { get; }

    /// <summary>Policies estimated besides LRU.</summary>
    public IReadOnlyList<string> Policies => _policies;

    /// <summary>
    /// Bytes the estimator holds, fixed at construction (measured as what its construction allocated): LRU's list and
    /// index, the miniature caches with their policies' state, the sampler's tables, and in the background the ring.
    /// Nothing is allocated afterwards; the background thread's stack (256 KiB reserved) is not counted.
    /// </summary>
    public long MemoryBytes { get; }

    /// <summary>Accesses the tier reported.</summary>
    public long ObservedAccesses => _ring?.Tail ?? Volatile.Read(ref _observed);

    /// <summary>Accesses LRU's curve simulated (its sample); behind the tier's by the ring's backlog.</summary>
    public long SampledAccesses => _lru.Accesses;

    /// <summary>
    /// The tier accessed <paramref name="key"/> (a read hit or an insert); <paramref name="parent"/> is the chunk before
    /// it in its chain. Called under the tier's lock.
    /// </summary>
    public void Observe(in ChunkKey key, ChunkKey? parent)
    {
        if (_ring is null)
        {
            Simulate(key, parent);
        }
        else
        {
            Append(key, parent);
        }
    }

    private void Simulate(in ChunkKey key, ChunkKey? parent)
    {
        _observed++;
        if (_allToLru)
        {
            // Every family is sampled and there are no miniature caches: the stream goes to LRU as it comes.
            _lru.Access(key, parent);
            return;
        }

        _sampler.Observe(key, parent);
        Feed();
    }

    /// <summary>
    /// Simulates what is still held back: the ring's backlog, a root access in the sampler (a request of a root alone
    /// is recognised only when the next request starts) and LRU's batch (its last accesses, fewer than 32). Call it
    /// when the tier is quiet, e.g. at the end of a replay, under the tier's lock or with no access in flight.
    /// </summary>
    public void Flush()
    {
        lock (_drainLock)
        {
            CatchUpLocked();
            _sampler.Flush();
            Feed();
            _lru.Drain();
        }
    }

    private void Feed()
    {
        for (int e = 0; e < _sampler.Count; e++)
        {
            var (k, p, family) = _sampler[e];
            _lru.Access(k, p);
            if (family > _policyThreshold)
            {
                continue;
            }

            for (int i = 0; i < _miniLru.Length; i++)
            {
                _miniLru[i].Access(k, p);
            }

            for (int i = 0; i < _minis.Length; i++)
            {
                _minis[i].Access(k, p);
            }
        }
    }

    /// <summary>
    /// The curve now, with every access observed before the call: LRU at every size, then each other policy at every
    /// size (allocates; for reports).
    /// </summary>
    public CurvePoint[] Snapshot()
    {
        lock (_drainLock)
        {
            CatchUpLocked();
            return PointsLocked();
        }
    }

    private CurvePoint[] PointsLocked()
    {
        int k = _sizes.Length;
        var points = new CurvePoint[k * (1 + _policies.Length)];
        long accesses = _lru.Accesses;
        var lru = new double[k];
        for (int i = 0; i < k; i++)
        {
            lru[i] = accesses == 0 ? 0 : (double)_lru.Hits(i) / accesses;
            points[i] = new CurvePoint("lru", _sizes[i], _multiples[i], lru[i]);
        }

        for (int p = 0; p < _policies.Length; p++)
        {
            for (int i = 0; i < k; i++)
            {
                double diff = _minis[(p * k) + i].HitRatio - _miniLru[i].HitRatio;
                points[((p + 1) * k) + i] = new CurvePoint(_policies[p], _sizes[i], _multiples[i], Math.Clamp(lru[i] + diff, 0, 1));
            }
        }

        return points;
    }

    private static ulong Threshold(double rate) => rate >= 1 ? ulong.MaxValue : (ulong)(rate * 18446744073709551616.0);

    private long MiniSlots(double rate)
    {
        long sum = 0;
        foreach (long s in _sizes)
        {
            sum += Math.Max(1, (long)Math.Round(s * rate));
        }

        return sum;
    }

    private int MiniSize(int i) => (int)Math.Max(1, Math.Round(_sizes[i] * PolicySampleRate));
}
