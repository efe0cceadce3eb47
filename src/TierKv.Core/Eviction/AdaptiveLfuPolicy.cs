using System.Numerics;
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
public sealed class AdaptiveLfuPolicy : EvictionPolicy
{
    // Per-slot state: a new chunk waiting to be classified as tail or interior, or nothing to do.
    private const byte None = 0;
    private const byte Pending = 1;

    // Per-key class remembered until the key's second access: which estimate that access counts for.
    private const byte Interior = 1;
    private const byte Tail = 2;
    private const int PendingSize = 4;

    private readonly SlotHeap _heap;
    private readonly ChunkKey[] _keys;
    private readonly FrequencySketch _sketch;
    private readonly KeyList _shadowLru;
    private readonly AdaptiveLfuOptions _options;
    private readonly byte[] _state;
    private readonly long[] _insertedAt;
    private readonly byte[] _firstClass;
    private readonly int _classMask;
    private readonly int[] _pendingSlot = new int[PendingSize];
    private readonly long[] _pendingStamp = new long[PendingSize];
    private double _recencyWeight;
    private long _clock;
    private int _pendingCount;
    private double _tails;
    private double _tailsReused;
    private double _interiors;
    private double _interiorsReused;

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
        int width = (int)Math.Min(1 << 26, Math.Max(options.MinSketchWidth, (long)options.SketchWidthPerSlot * capacity));
        _sketch = new FrequencySketch(width, (long)options.HalvingPeriodPerSlot * capacity);
        _shadowLru = new KeyList(capacity);
        _recencyWeight = options.InitialRecencyWeight;
        _state = new byte[capacity];
        _insertedAt = new long[capacity];
        if (options.DemoteTails)
        {
            int classes = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1024, width));
            _firstClass = new byte[classes];
            _classMask = classes - 1;
        }
        else
        {
            _firstClass = [];
        }
    }

    /// <inheritdoc />
    public override string Name => "alfu";

    /// <summary>The current recency weight <c>a</c> (for reports and tests).</summary>
    public double RecencyWeight => _recencyWeight;

    /// <summary>
    /// The measured second-access rate of new request tails over that of new interior chunks, at most 1 (near 1 until
    /// there is evidence; for reports and tests). A new tail is moved <c>(1 - TailReuseRatio) x C</c> ranks down.
    /// </summary>
    public double TailReuseRatio
    {
        get
        {
            // Add-one estimates: with little evidence the ratio stays near 1 and tails keep their normal rank.
            double tail = (_tailsReused + 1) / (_tails + 2);
            double interior = (_interiorsReused + 1) / (_interiors + 2);
            return Math.Min(1.0, tail / interior);
        }
    }

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key)
    {
        _keys[slot] = key;
        int seen = Access(slot, key, resident: false);
        _insertedAt[slot] = _clock - 1;
        _state[slot] = None;
        if (_options.DemoteTails && seen == 0)
        {
            // A brand-new chunk: whether it is a tail shows at the next insert (SelectVictim sees the parent links).
            _state[slot] = Pending;
            if (_pendingCount == PendingSize)
            {
                // Not classified in time (the tier had free slots, so no victim was asked for): forget the oldest.
                _state[_pendingSlot[0]] = None;
                Array.Copy(_pendingSlot, 1, _pendingSlot, 0, PendingSize - 1);
                Array.Copy(_pendingStamp, 1, _pendingStamp, 0, PendingSize - 1);
                _pendingCount--;
            }

            _pendingSlot[_pendingCount] = slot;
            _pendingStamp[_pendingCount] = _insertedAt[slot];
            _pendingCount++;
        }
    }

    /// <inheritdoc />
    public override void OnHit(int slot) => Access(slot, _keys[slot], resident: true);

    /// <inheritdoc />
    public override void OnRemove(int slot)
    {
        _state[slot] = None;
        _heap.Remove(slot);
    }

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        if (_pendingCount > 1)
        {
            ClassifyPending(candidates);
        }

        return _heap.MinEvictable(candidates);
    }

    /// <summary>
    /// Classifies the new chunks inserted before the latest one: the chunk after each has been inserted by now, so one
    /// that is still a leaf ended its run of inserts (a request's tail). The latest insert waits: its successor is the
    /// incoming chunk.
    /// </summary>
    private void ClassifyPending(IEvictionCandidates candidates)
    {
        for (int i = 0; i < _pendingCount - 1; i++)
        {
            int slot = _pendingSlot[i];
            if (_state[slot] != Pending || _insertedAt[slot] != _pendingStamp[i] || !_heap.Contains(slot))
            {
                continue;
            }

            _state[slot] = None;
            bool tail = candidates.IsLeaf(slot);
            _firstClass[ClassIndex(_keys[slot])] = tail ? Tail : Interior;
            if (tail)
            {
                _tails++;
                double demote = (1 - TailReuseRatio) * Capacity;
                if (demote > 0)
                {
                    _heap.Set(slot, _heap.PriorityOf(slot) - demote, _insertedAt[slot]);
                }
            }
            else if (++_interiors > Math.Max(_options.MinTailWindow, Capacity))
            {
                // Halve all counts now and then so the estimate follows a trace whose mix changes.
                _interiors /= 2;
                _interiorsReused /= 2;
                _tails /= 2;
                _tailsReused /= 2;
            }
        }

        _pendingSlot[0] = _pendingSlot[_pendingCount - 1];
        _pendingStamp[0] = _pendingStamp[_pendingCount - 1];
        _pendingCount = 1;
    }

    private int ClassIndex(in ChunkKey key)
    {
        ulong h = (key.High ^ (key.Low * 0xC2B2AE3D27D4EB4FUL)) * 0x9E3779B97F4A7C15UL;
        return (int)((h >> 32) & (uint)_classMask);
    }

    private int Access(int slot, in ChunkKey key, bool resident)
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
        if (seen == 1 && _options.DemoteTails)
        {
            // The second access of a key: count it for the class its first access was given, once.
            ref byte c = ref _firstClass[ClassIndex(key)];
            if (c == Tail)
            {
                _tailsReused++;
            }
            else if (c == Interior)
            {
                _interiorsReused++;
            }

            c = 0;
        }

        // Only "seen before: never, once, more" counts by default: large counts kept dead popular chains alive too long.
        int credit = _options.FrequencyCap > 0 && seen > _options.FrequencyCap ? _options.FrequencyCap : seen;

        // Rank = access time + a credit of f x capacity / a accesses: a chunk seen before outlives a new one by up to
        // f / a turnovers of the cache. As a grows the credit vanishes and the order is exactly LRU's.
        _heap.Set(slot, _clock + (credit * (double)Capacity / _recencyWeight), _clock);
        _clock++;
        return seen;
    }
}
