using TierKv.Keys;

namespace TierKv.Eviction;

/// <summary>
/// TierKV's default: recency with a frequency credit whose size tunes itself against a shadow LRU. Each access ranks a
/// chunk at <c>t + f x C / a</c>: <c>t</c> is the access time (a counter of accesses), <c>f</c> how often the key was
/// seen before, capped at 2 (remembered in a sketch even after eviction, so a prefix that comes back after a long gap
/// keeps its history), <c>C</c> the capacity in slots and <c>a</c> the recency weight. The lowest rank is evicted: a
/// chunk seen before outlives a new one by <c>f / a</c> turnovers of the cache. A directory of the keys an LRU of the
/// same size would hold (keys only) tells, on every access, which of the two would have had the chunk: LRU-only hits
/// raise <c>a</c> (towards plain LRU), own-only hits lower it. So the policy leans on reuse history where that pays
/// and falls back towards LRU where it does not.
/// </summary>
public sealed class AdaptiveLfuPolicy : EvictionPolicy
{
    private readonly SlotHeap _heap;
    private readonly ChunkKey[] _keys;
    private readonly FrequencySketch _sketch;
    private readonly KeyList _shadowLru;
    private readonly AdaptiveLfuOptions _options;
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
        _sketch = new FrequencySketch((int)Math.Min(1 << 26, Math.Max(options.MinSketchWidth, (long)options.SketchWidthPerSlot * capacity)), (long)options.HalvingPeriodPerSlot * capacity);
        _shadowLru = new KeyList(capacity);
        _recencyWeight = options.InitialRecencyWeight;
    }

    /// <inheritdoc />
    public override string Name => "alfu";

    /// <summary>The current recency weight <c>a</c> (for reports and tests).</summary>
    public double RecencyWeight => _recencyWeight;

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key)
    {
        _keys[slot] = key;
        Access(slot, key, resident: false);
    }

    /// <inheritdoc />
    public override void OnHit(int slot) => Access(slot, _keys[slot], resident: true);

    /// <inheritdoc />
    public override void OnRemove(int slot) => _heap.Remove(slot);

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates) => _heap.MinEvictable(candidates);

    private void Access(int slot, in ChunkKey key, bool resident)
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

        int seen = _sketch.Increment(key);
        // Only "seen before: never, once, more" counts by default: large counts kept dead popular chains alive too long.
        if (_options.FrequencyCap > 0 && seen > _options.FrequencyCap)
        {
            seen = _options.FrequencyCap;
        }

        // Rank = access time + a credit of f x capacity / a accesses: a chunk seen before outlives a new one by up to
        // f / a turnovers of the cache. As a grows the credit vanishes and the order is exactly LRU's.
        _heap.Set(slot, _clock + (seen * (double)Capacity / _recencyWeight), _clock);
        _clock++;
    }
}
