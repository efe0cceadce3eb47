
namespace TierKv.Eviction;

/// <summary>
/// TierKV's default: recency with a frequency credit whose size tunes itself against a shadow LRU. Each access ranks a
/// chunk at <c>t + f x C / a</c>: <c>t</c> is the access time (a counter of accesses), <c>f</c> how often the key was
/// seen before, capped at 2 (remembered in a sketch even after eviction, so a prefix that comes back after a long gap
/// keeps its history), <c>C</c> the capacity in slots (the tier's limit) and <c>a</c> the recency weight. The lowest rank is evicted: a
/// chunk seen before outlives a new one by <c>f / a</c> turnovers of the cache. A directory of the keys an LRU of the
/// same size would hold (keys only) tells, on every access, which of the two would have had the chunk: LRU-only hits
/// raise <c>a</c> (towards plain LRU), own-only hits lower it. So the policy leans on reuse history where that pays
/// and falls back towards LRU where it does not.
/// <para>
/// Request tails: a new chunk that ended a run of inserts (the tier still reports it a leaf,
/// <see cref="IEvictionCandidates.IsLeaf"/>, when the next insert comes, so the next chunk was not its child) is
/// usually the last, partial block of a request, which later requests rarely read. The policy measures online how
/// often new tails and new interior chunks are accessed a second time (from every access, resident or not, so the
/// estimate does not depend on what the policy evicted) and moves each new tail down its order by
/// <c>(1 - rho) x C</c> ranks, <c>rho</c> the ratio of the two reuse rates (at most 1). Where tails are reused as often
/// as other chunks, or a tier never reports leaves, nothing changes.
/// </para>
/// </summary>
public sealed class AdaptiveLfuPolicy : EvictionPolicy, ITailDemotion
{
    private readonly SlotHeap _heap;
    private readonly ChunkKey[] _keys;
    private readonly FrequencySketch _sketch;
    private readonly KeyList? _shadowLru;
    private readonly AdaptiveLfuOptions _options;
    private readonly long[] _insertedAt;
    private readonly TailClassifier? _tails;
    private double _recencyWeight;
    private long _clock;

    /// <summary>Creates the policy for <paramref name="capacity"/> slots with default settings.</summary>
    public AdaptiveLfuPolicy(int capacity)
        : this(capacity, AdaptiveLfuOptions.Default)
    {
    }

    /// <summary>Creates the policy for <paramref name="capacity"/> slots.</summary>
    public AdaptiveLfuPolicy(int capacity, AdaptiveLfuOptions options)
        : base(capacity)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _heap = new SlotHeap(capacity);
        _keys = new ChunkKey[capacity];
        int width = SketchWidth(options, capacity);
        _sketch = new FrequencySketch(width, (long)options.HalvingPeriodPerSlot * capacity);
        _shadowLru = options.AdaptRate > 0 ? new KeyList(capacity) : null;
        _recencyWeight = options.InitialRecencyWeight;
        _insertedAt = new long[capacity];
        _tails = options.DemoteTails ? new TailClassifier(capacity, width, options.MinTailWindow) : null;
    }

    /// <inheritdoc />
    public override string Name => "alfu";

    /// <summary>The current recency weight <c>a</c> (for reports and tests).</summary>
    public double RecencyWeight => _recencyWeight;

    /// <summary>
    /// The measured second-access rate of new request tails over that of new interior chunks, at most 1 (near 1 until
    /// there is evidence; for reports and tests). A new tail is moved <c>(1 - TailReuseRatio) x C</c> ranks down.
    /// </summary>
    public double TailReuseRatio => _tails?.TailReuseRatio ?? 1.0;

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key)
    {
        _keys[slot] = key;
        int seen = Access(slot, key, resident: false);
        _insertedAt[slot] = _clock - 1;
        if (seen == 0)
        {
            // A brand-new chunk: whether it is a tail shows at the next insert (SelectVictim sees the parent links).
            _tails?.OnNewChunk(slot, key, _insertedAt[slot]);
        }
        else
        {
            _tails?.Forget(slot);
        }
    }

    /// <inheritdoc />
    public override void OnHit(int slot) => Access(slot, _keys[slot], resident: true);

    /// <inheritdoc />
    public override void OnRemove(int slot)
    {
        _tails?.Forget(slot);
        _heap.Remove(slot);
    }

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        _tails?.Classify(candidates, this);
        return _heap.MinEvictable(candidates);
    }

    /// <summary>
    /// The credit (<c>f x C / a</c>), the tail demotion and the shadow LRU follow the limit; the learned recency weight,
    /// the frequency sketch and the ranks already given stay (they move to the new scale as chunks are accessed again).
    /// </summary>
    protected override void OnResize(int previous)
    {
        _shadowLru?.SetLimit(Limit);
        _tails?.Resize(Limit);
        if (_options.HalvingPeriodPerSlot > 0)
        {
            _sketch.HalveAfter = (long)_options.HalvingPeriodPerSlot * Limit;
        }
    }

    void ITailDemotion.Demote(int slot, double ranks)
    {
        if (_heap.Contains(slot))
        {
            _heap.Set(slot, _heap.PriorityOf(slot) - ranks, _insertedAt[slot]);
        }
    }

    /// <summary>Width of the frequency sketch (and of the tail-class table) for <paramref name="capacity"/> slots.</summary>
    internal static int SketchWidth(AdaptiveLfuOptions options, int capacity) =>
        (int)Math.Min(1 << 26, Math.Max(options.MinSketchWidth, (long)options.SketchWidthPerSlot * capacity));

    private int Access(int slot, in ChunkKey key, bool resident)
    {
        if (_shadowLru is not null)
        {
            bool lruWouldHit = _shadowLru.Touch(key);
            if (!lruWouldHit)
            {
                _shadowLru.AddNewest(key);
            }

            if (lruWouldHit != resident)
            {
                double w = lruWouldHit ? _recencyWeight * (1 + _options.AdaptRate) : _recencyWeight / (1 + _options.AdaptRate);
                _recencyWeight = Math.Clamp(w, _options.MinRecencyWeight, _options.MaxRecencyWeight);
            }
        }

        int seen = _sketch.Increment(key);
        if (seen == 1)
        {
            _tails?.OnSecondAccess(key);
        }

        // Only "seen before: never, once, more" counts by default: large counts kept dead popular chains alive too long.
        int credit = _options.FrequencyCap > 0 && seen > _options.FrequencyCap ? _options.FrequencyCap : seen;

        // Rank = access time + a credit of f x capacity / a accesses: a chunk seen before outlives a new one by up to
        // f / a turnovers of the cache. As a grows the credit vanishes and the order is exactly LRU's.
        _heap.Set(slot, _clock + (credit * (double)Limit / _recencyWeight), _clock);
        _clock++;
        return seen;
    }
}
