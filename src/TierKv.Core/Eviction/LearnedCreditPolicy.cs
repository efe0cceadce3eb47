using TierKv.Tiers.Slots;
using System.Numerics;

namespace TierKv.Eviction;

/// <summary>
/// Learned credit (the research prototype "LC2": research/policy/README.md and lc2.py, with learned tails): each access
/// ranks a chunk at <c>T0 + tau[c]</c>, <c>T0</c> the access count when its request began and <c>tau[c]</c> a retention
/// time learned for the chunk's class <c>c</c>; the lowest rank is evicted. The class combines how often the key was
/// seen before (<c>min(f, 3)</c>, from a sketch) with the shape of its request: whether the request extends a prefix
/// seen before (its leading run of known keys <c>hp</c> is longer than 1) and the size of its new part
/// (<c>floor(log2(n - hp + 1))</c>, at most 6). Within a request a chunk ranks at least as high as its deeper chunks
/// (so eviction keeps prefixes whole) and deeper chunks go first on ties. A brand-new last chunk (the request's tail) is
/// a class of its own, learned like the others.
/// <para>
/// Learning: every access leaves a ghost entry (time, class) for <c>H = 8 x C</c> accesses. A later access of the key
/// within <c>H</c> adds its reuse age to its class's histogram (128 buckets of <c>C / 16</c> accesses); entries that
/// expire are counted as censored. Every 4,096 accesses the policy turns the histograms into per-class hit densities
/// and survival curves (Kaplan-Meier, each class shrunk towards its f level) and picks the <c>tau</c> of every class
/// that maximises hits minus a price per slot-access, with the price bisected so the expected occupancy fills the
/// capacity; the capacity that price leaves to chunks past their retention is then filled by the marginal classes as
/// far as the measured occupancy allows (LearnedCreditPolicy.Plan.cs). Until 10,000 births are recorded and <c>H / 4</c> accesses have passed, <c>tau</c> is 0: the order is LRU
/// by request, and new tails go to the bottom while they have come back less than half as often as other new chunks.
/// </para>
/// <para>
/// The tier shows one access at a time, so requests are found from the parent chain: an access starts a new request
/// when its key has no parent or its parent is not the previously accessed key. While a request runs, a chunk ranks by
/// the largest retention among the classes its request can still end in (its new part only grows), and no chunk of the
/// request ranks below a deeper one; when the next request begins, the finished request's chunks are ranked again with
/// its final class and the suffix maximum, and their ghost entries move to the final class.
/// </para>
/// </summary>
public sealed partial class LearnedCreditPolicy : EvictionPolicy
{
    private const int Ages = 128;
    private const int Features = 14;
    private const int Levels = 4;
    private const int BodyClasses = Levels * Features;

    // New tails (a brand-new last chunk of a request) are a class of their own, learned like the others: in Mooncake's
    // traces they almost never return (the last block is partial), in a trace of whole blocks they return like the rest.
    private const int TailClass = BodyClasses;
    private const int Classes = BodyClasses + 1;
    private const int RecomputePeriod = 4096;
    private const int BisectionSteps = 25;
    private const int MaxRequestBlocks = 4096;

    // Tails rank this far below their request's start time: below every other chunk, oldest tail first.
    private const double TailOffset = 1L << 50;

    private readonly SlotHeap _heap;
    private readonly ChunkKey[] _keys;
    private readonly ChunkKey[] _parents;
    private readonly bool[] _hasParent;
    private readonly long[] _accessedAt;
    private readonly FrequencySketch _sketch;
    private readonly bool? _demoteTailsBeforeLearning;
    private readonly double _beta;
    private readonly double _alpha;
    private readonly long _minBirths;
    private readonly bool _fill;

    // Ghost entries: a ring of the last H accesses (record of time t at t mod R, R the horizon at the pool's size, at
    // least H: H follows the tier's limit) and a SlotIndex from key to the ring position of its latest access.
    private readonly int _ring;
    private int _bucketWidth;
    private int _horizon;
    private readonly ChunkKey[] _ghostKey;
    private readonly sbyte[] _ghostClass;
    private readonly SlotIndex _ghostIndex;

    // Learning state per class: reuse-age histogram, censored count, pending entries by birth bucket, births.
    private readonly long[] _hist = new long[Classes * Ages];
    private readonly long[] _censored = new long[Classes];

    // What a resize rebuilds the histograms from: entries censored by expiry, and reuse ages in fine bins (16 per
    // octave, so spreading a bin uniformly over the new buckets errs by at most a sixteenth of an age).
    private readonly long[] _expired = new long[Classes];
    private readonly long[] _fineAges;
    private readonly int _fineBins;
    private readonly long[] _pending = new long[Classes * Ages];
    private readonly long[] _births = new long[Classes];
    private readonly long[] _tau = new long[Classes];
    private readonly long[] _provisionalTau = new long[Classes];
    private readonly long[] _tauScratch = new long[Classes];
    private readonly double[] _atRisk = new double[Classes * Ages];
    private readonly double[] _density = new double[Classes * Ages];
    private readonly double[] _survival = new double[Classes * Ages];
    private readonly double[] _levelHazard = new double[Ages];
    private readonly double[] _rate = new double[Classes];

    // The current request: accesses in order (slot, time, f level, provisional feature), up to MaxRequestBlocks.
    private readonly int[] _reqSlot = new int[MaxRequestBlocks];
    private readonly long[] _reqTime = new long[MaxRequestBlocks];
    private readonly byte[] _reqLevel = new byte[MaxRequestBlocks];
    private readonly byte[] _reqFeature = new byte[MaxRequestBlocks];
    private readonly double[] _reqRank = new double[MaxRequestBlocks];
    private int _reqLength;
    private int _reqSeenRun;
    private bool _reqAllSeen;
    private long _reqStart;
    private ChunkKey _lastKey;
    private bool _hasLast;

    private long _clock;
    private long _totalBirths;
    private bool _learned;

    /// <summary>Creates the policy for <paramref name="capacity"/> slots.</summary>
    public LearnedCreditPolicy(int capacity)
        : this(capacity, LearnedCreditOptions.Default, null)
    {
    }

    /// <summary>Creates the policy for <paramref name="capacity"/> slots with other settings (research, tests).</summary>
    public LearnedCreditPolicy(int capacity, LearnedCreditOptions options)
        : this(capacity, options, null)
    {
    }

    /// <summary>Tests: see <see cref="LearnedCreditPolicy(int, LearnedCreditOptions, bool?)"/>.</summary>
    internal LearnedCreditPolicy(int capacity, bool? demoteTailsBeforeLearning)
        : this(capacity, LearnedCreditOptions.Default, demoteTailsBeforeLearning)
    {
    }

    /// <summary>
    /// Tests: <paramref name="demoteTailsBeforeLearning"/> fixes whether new tails go to the bottom before retention is
    /// learned (null: by the evidence, as in the public constructor).
    /// </summary>
    internal LearnedCreditPolicy(int capacity, LearnedCreditOptions options, bool? demoteTailsBeforeLearning)
        : base(capacity)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _beta = options.Occupancy;
        _alpha = options.Shrinkage;
        _minBirths = options.MinAccesses;
        _fill = options.Fill;
        _demoteTailsBeforeLearning = demoteTailsBeforeLearning;
        _heap = new SlotHeap(capacity);
        _keys = new ChunkKey[capacity];
        _parents = new ChunkKey[capacity];
        _hasParent = new bool[capacity];
        _accessedAt = new long[capacity];
        _accessedAt.AsSpan().Fill(-1);
        _bucketWidth = Math.Max(8, capacity / 16);
        _horizon = checked(Ages * _bucketWidth);
        _ring = _horizon;
        _ghostKey = new ChunkKey[_ring];
        _ghostClass = new sbyte[_ring];
        _ghostIndex = new SlotIndex(_ghostKey);
        _fineBins = FineBin(_ring - 1) + 1;
        _fineAges = new long[Classes * _fineBins];

        // f must tell "never seen" reliably: a wide sketch, halved after a quarter of its width in accesses so that in a
        // tier that runs for days it does not fill up (then nearly every new key would read as seen before); at most
        // about a quarter of its counters are then set by keys since the last halving.
        int width = SketchWidth(capacity, _horizon);
        _sketch = new FrequencySketch(width, width / 4);
    }

    /// <inheritdoc />
    public override string Name => "lc";

    /// <summary>True once the retention times have been learned (until then the order is LRU by request with tail demotion).</summary>
    public bool Learned => _learned;

    /// <summary>Number of accesses seen so far (the policy's clock).</summary>
    public long Accesses => _clock;

    /// <summary>The learned retention time, in accesses, of class <c>min(f, 3) x 14 + feature</c> (0 before learning).</summary>
    public long RetentionOf(int level, int feature)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(level);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(level, Levels);
        ArgumentOutOfRangeException.ThrowIfNegative(feature);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(feature, Features);
        return _tau[(level * Features) + feature];
    }

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key) => OnInsert(slot, key, null);

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key, ChunkKey? parent)
    {
        _keys[slot] = key;
        _hasParent[slot] = parent.HasValue;
        _parents[slot] = parent.GetValueOrDefault();
        Access(slot, key);
    }

    /// <inheritdoc />
    public override void OnHit(int slot) => Access(slot, _keys[slot]);

    /// <inheritdoc />
    public override void OnRemove(int slot)
    {
        if (_heap.Contains(slot))
        {
            _heap.Remove(slot);
        }

        _accessedAt[slot] = -1;
    }

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates) => _heap.MinEvictable(candidates);

    private static int Feature(int seenRun, int length)
    {
        int newBlocks = length - seenRun;
        int lg = BitOperations.Log2((uint)(newBlocks + 1));
        return (seenRun > 1 ? 7 : 0) + Math.Min(lg, 6);
    }

    private void Access(int slot, in ChunkKey key)
    {
        if (!_hasLast || !_hasParent[slot] || _parents[slot] != _lastKey)
        {
            FinishRequest();
            _reqStart = _clock;
            _reqSeenRun = 0;
            _reqAllSeen = true;
        }

        long t = _clock;
        int f = _sketch.Increment(key);
        int level = f > 3 ? 3 : f;
        int i = _reqLength++;
        if (_reqAllSeen && f > 0)
        {
            _reqSeenRun++;
        }
        else
        {
            _reqAllSeen = false;
        }

        // Provisional rank (FinishRequest ranks the chunk again): the request's final feature can only be this one or a
        // later one of its group (its new part only grows), so rank by the best of those until the request ends. A known
        // first chunk may also begin a request that extends a prefix (features 7 to 13).
        int feature = Feature(_reqSeenRun, i + 1);
        int c = (level * Features) + feature;
        long tau = _provisionalTau[c];
        if (i == 0 && f > 0)
        {
            tau = Math.Max(tau, _provisionalTau[(level * Features) + 7]);
        }

        if (level == 0)
        {
            // A new chunk may turn out to be the request's tail.
            tau = Math.Max(tau, _provisionalTau[TailClass]);
        }

        double priority = _reqStart + tau;
        _heap.Set(slot, priority, -i);
        _accessedAt[slot] = t;
        if (i < MaxRequestBlocks)
        {
            _reqSlot[i] = slot;
            _reqTime[i] = t;
            _reqLevel[i] = (byte)level;
            _reqFeature[i] = (byte)feature;
            _reqRank[i] = priority;

            // Keep the request prefix-closed while it runs: no chunk ranks below a deeper one of its request. Ranks along
            // the request never increase, so this walks back only over the chunks that rank lower, which happens only
            // when the provisional class changes.
            for (int j = i - 1; j >= 0 && _reqRank[j] < priority; j--)
            {
                _reqRank[j] = priority;
                int s = _reqSlot[j];
                if (_accessedAt[s] == _reqTime[j])
                {
                    _heap.Set(s, priority, -j);
                }
            }
        }

        Learn(key, t, c);
        _lastKey = key;
        _hasLast = true;
        _clock = t + 1;
        if (_clock % RecomputePeriod == 0)
        {
            Recompute();
        }
    }

    private void Learn(in ChunkKey key, long t, int c)
    {
        int w = _bucketWidth;
        int r = (int)(t % _ring);
        if (t >= _horizon)
        {
            // The record of time t - H expires: if it is still its key's latest access, the key was not reused within H.
            int re = (int)((t - _horizon) % _ring);
            if (_ghostIndex.TryGet(_ghostKey[re], out int latest) && latest == re)
            {
                _ghostIndex.RemoveSlot(re);
                int c0 = _ghostClass[re];
                _censored[c0]++;
                _expired[c0]++;
                _pending[(c0 * Ages) + (int)((t - _horizon) / w % Ages)]--;
            }
        }

        if (_ghostIndex.TryGet(key, out int r0))
        {
            long t0 = t - ((t - r0) % _ring);
            int c0 = _ghostClass[r0];
            _hist[(c0 * Ages) + (int)((t - t0) / w)]++;
            _fineAges[(c0 * _fineBins) + FineBin(t - t0)]++;
            _pending[(c0 * Ages) + (int)(t0 / w % Ages)]--;

            _ghostIndex.RemoveSlot(r0);
        }

        _ghostKey[r] = key;
        _ghostIndex.Add(key, r);
        _ghostClass[r] = (sbyte)c;
        _pending[(c * Ages) + (int)(t / w % Ages)]++;
        _births[c]++;
        _totalBirths++;
    }

    /// <summary>
    /// The request that was being accessed has ended: ranks its chunks with the final class, takes the suffix maximum
    /// along the chain (deepest first on ties), sends a new tail to the bottom, and moves ghost entries to the final class.
    /// </summary>
    private void FinishRequest()
    {
        int n = _reqLength;
        if (n == 0)
        {
            return;
        }

        _reqLength = 0;
        int finalFeature = Feature(_reqSeenRun, n);
        int recorded = Math.Min(n, MaxRequestBlocks);
        // New tails go to the bottom while they are not worth keeping: before learning, while they come back less than
        // half as often as other new chunks; after, while their class's learned retention is zero.
        bool demoteTail = _learned ? _tau[TailClass] == 0 : _demoteTailsBeforeLearning ?? TailsRarelyReused();
        int w = _bucketWidth;
        double max = double.NegativeInfinity;
        for (int i = recorded - 1; i >= 0; i--)
        {
            long t = _reqTime[i];
            int level = _reqLevel[i];
            int provisional = (level * Features) + _reqFeature[i];
            bool tail = i == n - 1 && level == 0;
            int final = tail ? TailClass : (level * Features) + finalFeature;

            // Move the ghost entry unless it was already resolved or has expired.
            if (final != provisional && _clock - t < _horizon)
            {
                int r = (int)(t % _ring);
                if (_ghostIndex.TryGet(_ghostKey[r], out int latest) && latest == r && _ghostClass[r] == provisional)
                {
                    int b = (int)(t / w % Ages);
                    _pending[(provisional * Ages) + b]--;
                    _births[provisional]--;
                    _ghostClass[r] = (sbyte)final;
                    _pending[(final * Ages) + b]++;
                    _births[final]++;
                }
            }

            double priority;
            if (tail && demoteTail)
            {
                priority = _reqStart - TailOffset;
            }
            else
            {
                max = Math.Max(max, _reqStart + _tau[final]);
                priority = max;
            }

            int slot = _reqSlot[i];
            if (_accessedAt[slot] == t)
            {
                _heap.Set(slot, priority, -i);
            }
        }
    }

    /// <summary>
    /// Before retention is learned: whether new tails come back less than half as often as other new chunks (reuses
    /// within the horizon per birth, from the ghost histograms), so that sending them to the bottom is the safe guess.
    /// </summary>
    private bool TailsRarelyReused()
    {
        double tailReuses = 0, newReuses = 0, newBirths = 0;
        for (int a = 0; a < Ages; a++)
        {
            tailReuses += _hist[(TailClass * Ages) + a];
        }

        for (int c = 0; c < Features; c++)
        {
            newBirths += _births[c];
            for (int a = 0; a < Ages; a++)
            {
                newReuses += _hist[(c * Ages) + a];
            }
        }

        return (tailReuses + 1) / (_births[TailClass] + 2) < 0.5 * (newReuses + 1) / (newBirths + 2);
    }

    private void Recompute()
    {
        long t = _clock;
        if (t < _horizon / 4.0 || _totalBirths < _minBirths)
        {
            return;
        }

        const int A = Ages;
        long cur = t / _bucketWidth;

        // At-risk counts: censored + reused at age >= a + pending entries now at least a buckets old.
        for (int c = 0; c < Classes; c++)
        {
            double s = _censored[c];
            int row = c * A;
            for (int a = A - 1; a >= 0; a--)
            {
                s += _hist[row + a] + _pending[row + (int)(((cur - a) % A + A) % A)];
                _atRisk[row + a] = s;
            }
        }

        // Kaplan-Meier hazards, each class shrunk towards its f level; then density and survival per class.
        for (int level = 0; level < Levels; level++)
        {
            int first = level * Features;
            for (int a = 0; a < A; a++)
            {
                double hs = 0, ns = 0;
                for (int f = 0; f < Features; f++)
                {
                    int idx = ((first + f) * A) + a;
                    hs += _hist[idx];
                    ns += _atRisk[idx];
                }

                _levelHazard[a] = ns > 0 ? hs / ns : 0.0;
            }

            for (int f = 0; f < Features; f++)
            {
                int row = (first + f) * A;
                double surv = 1.0;
                for (int a = 0; a < A; a++)
                {
                    double haz = (_hist[row + a] + (_alpha * _levelHazard[a])) / (_atRisk[row + a] + _alpha);
                    _survival[row + a] = surv;
                    _density[row + a] = surv * haz;
                    surv *= 1 - haz;
                }
            }
        }

        // The tail class has no level to shrink towards: its own Kaplan-Meier hazards.
        int tailRow = TailClass * A;
        double tailSurv = 1.0;
        for (int a = 0; a < A; a++)
        {
            double risk = _atRisk[tailRow + a];
            double haz = risk > 0 ? _hist[tailRow + a] / risk : 0.0;
            _survival[tailRow + a] = tailSurv;
            _density[tailRow + a] = tailSurv * haz;
            tailSurv *= 1 - haz;
        }

        for (int c = 0; c < Classes; c++)
        {
            _rate[c] = _births[c] / (double)t;
        }

        // Bisect the price per slot-access (log scale) until the expected occupancy equals beta x capacity.
        double target = _beta * Limit;
        double lo = 1e-6, hi = 1.0;
        for (int step = 0; step < BisectionSteps; step++)
        {
            double mid = Math.Sqrt(lo * hi);
            if (Solve(mid, _tauScratch) > target)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        if (hi <= 2e-6)
        {
            // The horizon cannot be observed yet: keep the old retention times.
            return;
        }

        Plan(lo, hi, target);
        _tauScratch.AsSpan().CopyTo(_tau);
        _provisionalTau[TailClass] = _tau[TailClass];
        for (int c = BodyClasses - 1; c >= 0; c--)
        {
            int feature = c % Features;
            bool groupEnd = feature == Features - 1 || feature == 6;
            _provisionalTau[c] = groupEnd ? _tau[c] : Math.Max(_tau[c], _provisionalTau[c + 1]);
        }

        _learned = true;
    }

    /// <summary>Retention times at <paramref name="price"/> into <paramref name="taus"/>; returns the expected occupancy.</summary>
    private double Solve(double price, long[] taus)
    {
        double occupancy = 0;
        int w = _bucketWidth;
        for (int c = 0; c < Classes; c++)
        {
            int row = c * Ages;
            double gain = 0, best = 0, life = 0, bestLife = 0;
            int bestAge = 0;
            for (int a = 0; a < Ages; a++)
            {
                double sv = _survival[row + a];
                gain += _density[row + a] - (price * sv);
                life += sv;
                if (gain > best)
                {
                    best = gain;
                    bestAge = a + 1;
                    bestLife = life;
                }
            }

            taus[c] = (long)bestAge * w;
            occupancy += _rate[c] * bestLife * w;
        }

        return occupancy;
    }
}
