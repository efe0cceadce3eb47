
namespace TierKv.Eviction;

/// <summary>
/// TierKV's default: follows whichever of several expert policies has been hitting most lately. Every expert runs in
/// full on keys only (<see cref="ShadowCache"/>: its own virtual slots at the tier's capacity) and sees every access the
/// tier sees, so each one's prefix hits are known exactly. The tier itself evicts, first, chunks the leading expert does
/// not hold (its "strangers": the leader evicted them, or never had them); so after a change of leader the tier's
/// contents converge to the new leader's within the misses that follow, and while it leads they stay equal to its.
/// <para>
/// Scores are prefix hits decayed over three horizons (<see cref="LeaderPolicyOptions.HalfLifeTurnovers"/>, the long
/// and the fast one). Another expert takes over when its score passes the leader's by a margin, plus three standard
/// deviations of chance (from the accesses on which the two disagree), plus the learned cost of converging to it, and it
/// leads on the long horizon too; the tier falls back to the first expert (the baseline, LRU) at once when the leader
/// falls clearly behind it on the fast horizon. docs/analysis.md has the reasoning and the measurements.
/// </para>
/// </summary>
public sealed class LeaderPolicy : EvictionPolicy, IEvictionCandidates, ITailDemotion
{
    private readonly ShadowCache[] _experts;
    private readonly FrequencySketch _sketch;
    private readonly TailClassifier _tails;
    private readonly CreditSignals _signals = new();
    private readonly double[] _score;
    private readonly double[] _longScore;
    private readonly double[] _fastScore;
    private readonly double[] _fastDisagree;
    private double _fastDecay;
    private double _longDecay;
    private readonly long[] _hits;
    private readonly SlotLinks[] _strangerLinks;
    private readonly SlotList[] _strangers;
    private readonly bool[][] _isStranger;
    private readonly ChunkKey[] _keys;
    private readonly ChunkKey[] _parentKey;
    private readonly bool[] _hasParent;
    private readonly bool[] _lastHit;
    private readonly bool[] _counted;
    private readonly double[] _disagree;
    private readonly int[] _lastVirtual;
    private readonly int[] _preVirtual;
    private readonly bool[] _runValid;
    private readonly ChunkKey[] _runKey;
    private readonly SlotLinks _recency;
    private readonly LeaderPolicyOptions _options;
    private double _decay;
    private long _warmup;
    private SlotList _resident = SlotList.Empty;
    private IEvictionCandidates? _candidates;
    private int _leader;
    private bool _preAccessed;
    private ChunkKey _preKey;
    private long _switches;
    private long _accesses;
    private long _realHits;
    private bool _realRunValid;
    private ChunkKey _realRunKey;
    private double _costPerStranger;
    private int _costSamples;
    private bool _measuring;
    private long _measureStart;
    private int _measureStrangers;
    private long _measureLeaderHits;
    private long _measureRealHits;
    private long _clock;
    private int _lastSeen;
    private int _preSeen;

    /// <summary>Creates the policy for <paramref name="capacity"/> slots with the default experts.</summary>
    public LeaderPolicy(int capacity)
        : this(capacity, LeaderPolicyOptions.Default)
    {
    }

    /// <summary>Creates the policy for <paramref name="capacity"/> slots.</summary>
    public LeaderPolicy(int capacity, LeaderPolicyOptions options)
        : base(capacity)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        int n = options.Experts.Count;
        _experts = new ShadowCache[n];
        _score = new double[n];
        _longScore = new double[n];
        _fastScore = new double[n];
        _fastDisagree = new double[n];
        _hits = new long[n];
        _strangerLinks = new SlotLinks[n];
        _strangers = new SlotList[n];
        _isStranger = new bool[n][];
        // One frequency sketch and one tail classifier serve every credit expert (their counts depend only on the
        // access stream, not on what an expert holds), sized as alfu's.
        var lfu = AdaptiveLfuOptions.Default;
        int width = AdaptiveLfuPolicy.SketchWidth(lfu, capacity);
        _sketch = new FrequencySketch(width, (long)lfu.HalvingPeriodPerSlot * capacity);
        _tails = new TailClassifier(capacity, width, lfu.MinTailWindow);
        for (int e = 0; e < n; e++)
        {
            var x = options.Experts[e];
            var policy = x.CreditWeight is double w ? new CreditExpert(capacity, w, _signals) : x.Create!(capacity);
            _experts[e] = new ShadowCache(policy);
            _strangerLinks[e] = new SlotLinks(capacity);
            _strangers[e] = SlotList.Empty;
            _isStranger[e] = new bool[capacity];
        }

        _keys = new ChunkKey[capacity];
        _parentKey = new ChunkKey[capacity];
        _hasParent = new bool[capacity];
        _lastHit = new bool[n];
        _counted = new bool[n];
        _disagree = new double[n * (n - 1) / 2];
        _lastVirtual = new int[n];
        _preVirtual = new int[n];
        _runValid = new bool[n];
        _runKey = new ChunkKey[n];
        _recency = new SlotLinks(capacity);
        _leader = options.InitialLeader;
        SetHorizons(capacity);
    }

    /// <inheritdoc />
    public override string Name => "leader";

    /// <summary>Name of the expert the tier follows now (for reports and tests).</summary>
    public string LeaderName => _options.Experts[_leader].Name;

    /// <summary>Chunks the tier holds that the leader does not (0 once the tier has converged to the leader).</summary>
    public int StrangerCount => _strangers[_leader].Count;

    /// <summary>Prefix hits of the tier itself so far (as the experts' are counted).</summary>
    public long TierHits => _realHits;

    /// <summary>How often the leader changed.</summary>
    public long Switches => _switches;

    /// <summary>Prefix hits each expert would have had so far, in the order of <see cref="LeaderPolicyOptions.Experts"/>.</summary>
    public IReadOnlyList<long> ExpertHits => _hits;

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key) => Insert(slot, key, hasParent: false, default);

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key, ChunkKey? parent) =>
        Insert(slot, key, parent.HasValue, parent.GetValueOrDefault());

    /// <inheritdoc />
    public override void OnHit(int slot)
    {
        _recency.MoveToTail(ref _resident, slot);
        AccessAll(_keys[slot], slot, _hasParent[slot], _parentKey[slot], parentLater: false);
        Score(_keys[slot], _hasParent[slot], _parentKey[slot], realHit: true);
    }

    /// <inheritdoc />
    public override void OnRemove(int slot)
    {
        _tails.Forget(slot);
        _recency.Remove(ref _resident, slot);
        for (int e = 0; e < _experts.Length; e++)
        {
            Belongs(e, slot);
            _experts[e].SetRealSlot(_keys[slot], -1);
        }
    }

    /// <summary>
    /// Every expert is resized to the limit (a shadow cache holds at most that many keys: when it held more, its own
    /// victims go, and the tier's chunks among them become strangers, evicted first as the tier trims), and the score
    /// horizons, the warm-up and the tail demotion are counted in turnovers of the limit. Scores, hits, the leader and
    /// the learned cost of a switch stay.
    /// </summary>
    protected override void OnResize(int previous)
    {
        SetHorizons(Limit);
        _tails.Resize(Limit);
        for (int e = 0; e < _experts.Length; e++)
        {
            _experts[e].Resize(Limit);
            while (_experts[e].TryShrink(out int evictedReal))
            {
                MarkStranger(e, evictedReal);
            }
        }
    }

    /// <inheritdoc />
    public override int SelectTrimVictim(IEvictionCandidates candidates)
    {
        // No chunk comes in: the experts see no access, the tier gives up a stranger (or its least recent chunk).
        _candidates = candidates;
        return StrangerOrOldest(candidates);
    }

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        _candidates = candidates;
        _tails.Classify(candidates, this);
        if (!_preAccessed || _preKey != incoming)
        {
            // Let every expert take the access now, so the leader's own victim is known before the tier evicts.
            AccessAll(incoming, -1, false, default, parentLater: true);
            _preAccessed = true;
            _preKey = incoming;
            _preSeen = _lastSeen;
            _lastVirtual.CopyTo(_preVirtual, 0);
        }

        return StrangerOrOldest(candidates);
    }

    void ITailDemotion.Demote(int slot, double ranks)
    {
        for (int e = 0; e < _experts.Length; e++)
        {
            _experts[e].Demote(_keys[slot], ranks);
        }
    }

    bool IEvictionCandidates.CanEvict(int slot) => true;

    bool IEvictionCandidates.IsLeaf(int slot) => _candidates?.IsLeaf(slot) ?? true;

    private int StrangerOrOldest(IEvictionCandidates candidates)
    {
        // A chunk the leader does not hold: oldest first (the tier converges to the leader's contents).
        var links = _strangerLinks[_leader];
        for (int s = _strangers[_leader].Head; s >= 0; s = links.Next(s))
        {
            if (candidates.CanEvict(s))
            {
                return s;
            }
        }

        // None evictable (pins, or the tier holds exactly the leader's set): least recently used evictable chunk.
        for (int s = _resident.Head; s >= 0; s = _recency.Next(s))
        {
            if (candidates.CanEvict(s))
            {
                return s;
            }
        }

        return -1;
    }

    /// <summary>Score decays, the warm-up and the switch measurement counted in turnovers of <paramref name="slots"/>.</summary>
    private void SetHorizons(int slots)
    {
        _decay = Math.Pow(0.5, 1.0 / Math.Max(1.0, _options.HalfLifeTurnovers * slots));
        _longDecay = Math.Pow(0.5, 1.0 / Math.Max(1.0, _options.LongHalfLifeTurnovers * slots));
        _fastDecay = Math.Pow(0.5, 1.0 / Math.Max(1.0, _options.FastHalfLifeTurnovers * slots));
        _warmup = (long)Math.Min(long.MaxValue / 2, _options.WarmupTurnovers * slots);
    }

    private void Insert(int slot, in ChunkKey key, bool hasParent, in ChunkKey parent)
    {
        _keys[slot] = key;
        _hasParent[slot] = hasParent;
        _parentKey[slot] = parent;
        _recency.PushTail(ref _resident, slot);
        int seen;
        if (_preAccessed && _preKey == key)
        {
            // The experts saw this access when the tier asked for a victim; now they learn where the chunk lives.
            _preAccessed = false;
            seen = _preSeen;
            for (int e = 0; e < _experts.Length; e++)
            {
                _experts[e].SetRealSlot(key, _preVirtual[e], slot);
                _experts[e].CompleteInsert(hasParent, parent);
                Belongs(e, slot);
            }
        }
        else
        {
            AccessAll(key, slot, hasParent, parent, parentLater: false);
            seen = _lastSeen;
        }

        if (seen == 0)
        {
            // A brand-new chunk: whether it is a request tail shows when the tier next asks for a victim.
            _tails.OnNewChunk(slot, key, ++_clock);
        }
        else
        {
            _tails.Forget(slot);
        }

        Score(key, hasParent, parent, realHit: false);
    }

    /// <summary>Lets every expert take the access; <see cref="_lastHit"/> says which held the key.</summary>
    private void AccessAll(in ChunkKey key, int realSlot, bool hasParent, in ChunkKey parent, bool parentLater)
    {
        int seen = _sketch.Increment(key);
        if (seen == 1)
        {
            _tails.OnSecondAccess(key);
        }

        _lastSeen = seen;
        _signals.Credit = Math.Min(seen, 2);
        for (int e = 0; e < _experts.Length; e++)
        {
            _lastHit[e] = _experts[e].Access(key, realSlot, hasParent, parent, parentLater, out int evictedReal, out _lastVirtual[e]);
            MarkStranger(e, evictedReal);

            if (realSlot >= 0)
            {
                Belongs(e, realSlot);
            }
        }
    }

    /// <summary>
    /// Scores the access <see cref="AccessAll"/> made. Only prefix hits count: a hit counts for an expert when the chunk
    /// starts a prefix or its parent was that expert's previous counted hit (a chunk held without its prefix saves
    /// nothing). When the tier does not say parents, every hit counts.
    /// </summary>
    private void Score(in ChunkKey key, bool hasParent, in ChunkKey parent, bool realHit)
    {
        int best = _leader;
        _accesses++;
        for (int e = 0; e < _experts.Length; e++)
        {
            bool counts = Counts(_lastHit[e], ref _runValid[e], ref _runKey[e], key, hasParent, parent);
            _counted[e] = counts;
            _score[e] = (_score[e] * _decay) + (counts ? 1 : 0);
            _fastScore[e] = (_fastScore[e] * _fastDecay) + (counts ? 1 : 0);
            _longScore[e] = (_longScore[e] * _longDecay) + (counts ? 1 : 0);
            if (counts)
            {
                _hits[e]++;
            }

            if (_score[e] > _score[best])
            {
                best = e;
            }
        }

        // Decayed counts of the accesses on which two experts disagree (one hit, the other not): the variance of the
        // difference of their scores (a sign test), far below the scores themselves when both hit mostly the same.
        for (int i = 0, k = 0; i < _experts.Length; i++)
        {
            for (int j = i + 1; j < _experts.Length; j++, k++)
            {
                _disagree[k] = (_disagree[k] * _decay) + (_counted[i] != _counted[j] ? 1 : 0);
            }
        }

        for (int e = 1; e < _experts.Length; e++)
        {
            _fastDisagree[e] = (_fastDisagree[e] * _fastDecay) + (_counted[0] != _counted[e] ? 1 : 0);
        }

        if (Counts(realHit, ref _realRunValid, ref _realRunKey, key, hasParent, parent))
        {
            _realHits++;
        }

        if (_measuring && (_strangers[_leader].Count <= _measureStrangers / 8 || _accesses - _measureStart >= 4L * Limit))
        {
            FinishSwitchMeasurement();
        }

        // Fast retreat: a leader whose order stopped working (the popular set changed wholesale, say) falls behind the
        // baseline within a turnover or so; the usual horizon would keep it for several. Back to the baseline, free.
        bool retreat = _leader != 0 && _options.FastHalfLifeTurnovers > 0 &&
            _fastScore[0] > (_fastScore[_leader] * (1 + _options.SwitchMargin)) + (_options.SwitchConfidence * Math.Sqrt(_fastDisagree[_leader] + 1));
        // And back during the warm-up: a learning expert that led from the start and dipped below the baseline on the
        // fast horizon is followed again as soon as it leads there as clearly (the usual horizon waits for the warm-up).
        int initial = _options.InitialLeader;
        bool comeback = !retreat && _options.FastReturn && _leader == 0 && initial != 0 && _accesses < _warmup && _options.FastHalfLifeTurnovers > 0 &&
            _fastScore[initial] > (_fastScore[0] * (1 + _options.SwitchMargin)) + (_options.SwitchConfidence * Math.Sqrt(_fastDisagree[initial] + 1));
        if (retreat)
        {
            best = 0;
        }
        else if (comeback)
        {
            best = initial;
        }
        else if (best == _leader || _accesses < _warmup)
        {
            // During the warm-up only the fast retreat to the baseline (and the fast return from it) moves the tier.
            return;
        }

        // Following another expert costs the hits it gets on the chunks the tier lacks of its set while the tier
        // converges to it. The cost per differing chunk is measured after each switch (leader's hits minus the tier's
        // until it has converged) and charged against the next: a lead that does not pay for the move is not followed.
        // Back to the first expert (the baseline, LRU by default) is never charged: a leader that falls behind it is
        // left as soon as the lead is clear, which keeps the tier close to the baseline at worst.
        double switchCost = best == 0 ? 0 : _costPerStranger * _strangers[best].Count * _options.SwitchCostWeight;
        // And the lead must stand out from chance: z standard deviations of the difference of the two scores.
        double noise = _options.SwitchConfidence * Math.Sqrt(Disagreements(best, _leader) + 1);
        // A lead that is only recent must also show over the long horizon: two experts that are equal in the long run
        // trade the lead back and forth, and following each swing loses on every one.
        double needed = (_score[_leader] * _options.SwitchMargin) + switchCost + noise;
        if (retreat || comeback || (_score[best] > _score[_leader] + needed && _longScore[best] > _longScore[_leader]))
        {
            if (_measuring)
            {
                FinishSwitchMeasurement();
            }

            _leader = best;
            _switches++;
            _measuring = true;
            _measureStart = _accesses;
            _measureStrangers = _strangers[best].Count;
            _measureLeaderHits = _hits[best];
            _measureRealHits = _realHits;
        }
    }

    /// <summary>
    /// Whether an access counts as a prefix hit: a hit on a chunk that starts a prefix or whose parent was the previous
    /// counted hit of the same cache (a chunk held without its prefix saves nothing). A chunk without a known parent
    /// (the first of a prefix, or the tier does not say parents) counts on every hit.
    /// </summary>
    private static bool Counts(bool hit, ref bool runValid, ref ChunkKey runKey, in ChunkKey key, bool hasParent, in ChunkKey parent)
    {
        bool counts = hit && (!hasParent || (runValid && runKey == parent));
        runValid = counts;
        runKey = key;
        return counts;
    }

    private double Disagreements(int a, int b)
    {
        int i = Math.Min(a, b), j = Math.Max(a, b), n = _experts.Length;
        // Index of pair (i, j), i < j, in row-major order of the upper triangle.
        return _disagree[(i * ((2 * n) - i - 1) / 2) + (j - i - 1)];
    }

    private void FinishSwitchMeasurement()
    {
        _measuring = false;
        long lost = (_hits[_leader] - _measureLeaderHits) - (_realHits - _measureRealHits);
        double sample = Math.Max(0, lost) / (double)Math.Max(1, _measureStrangers);
        _costPerStranger = _costSamples == 0 ? sample : (_costPerStranger + sample) / 2;
        _costSamples++;
    }

    /// <summary>Expert <paramref name="e"/> evicted the tier's chunk in <paramref name="realSlot"/> (-1: one the tier lacks): a stranger.</summary>
    private void MarkStranger(int e, int realSlot)
    {
        if (realSlot >= 0 && !_isStranger[e][realSlot])
        {
            _isStranger[e][realSlot] = true;
            _strangerLinks[e].PushTail(ref _strangers[e], realSlot);
        }
    }

    /// <summary>Expert <paramref name="e"/> holds the chunk in <paramref name="slot"/> (or the slot is free): not a stranger.</summary>
    private void Belongs(int e, int slot)
    {
        if (_isStranger[e][slot])
        {
            _isStranger[e][slot] = false;
            _strangerLinks[e].Remove(ref _strangers[e], slot);
        }
    }
}
