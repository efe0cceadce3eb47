
namespace TierKv.Eviction;

/// <summary>
/// ARC (Megiddo and Modha, FAST 2003): resident chunks seen once (T1) and seen at least twice (T2), each in LRU order,
/// plus ghost lists of the keys recently evicted from each (B1, B2). A ghost hit in B1 grows T1's target size p, one in
/// B2 shrinks it, so the split between recency and frequency adapts to the traffic without a tuning knob.
/// </summary>
public sealed class ArcPolicy : EvictionPolicy
{
    private readonly SlotLinks _links;
    private readonly ChunkKey[] _keys;
    private readonly bool[] _inT2;
    private readonly KeyList _b1;
    private readonly KeyList _b2;
    private SlotList _t1 = SlotList.Empty;
    private SlotList _t2 = SlotList.Empty;
    private double _p;
    private int _pendingVictim = -1;

    /// <summary>Creates an ARC policy for <paramref name="capacity"/> slots.</summary>
    public ArcPolicy(int capacity)
        : base(capacity)
    {
        _links = new SlotLinks(capacity);
        _keys = new ChunkKey[capacity];
        _inT2 = new bool[capacity];
        _b1 = new KeyList(capacity);
        _b2 = new KeyList(capacity);
    }

    /// <inheritdoc />
    public override string Name => "arc";

    /// <summary>Current target size of T1 (for tests and diagnostics).</summary>
    public double TargetRecentSize => _p;

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key)
    {
        _keys[slot] = key;
        int b1 = _b1.Count, b2 = _b2.Count;
        if (b1 > 0 && _b1.Remove(key))
        {
            _p = Math.Min(Limit, _p + Math.Max(1.0, (double)b2 / b1));
            _inT2[slot] = true;
            _links.PushTail(ref _t2, slot);
        }
        else if (b2 > 0 && _b2.Remove(key))
        {
            _p = Math.Max(0.0, _p - Math.Max(1.0, (double)b1 / b2));
            _inT2[slot] = true;
            _links.PushTail(ref _t2, slot);
        }
        else
        {
            _inT2[slot] = false;
            _links.PushTail(ref _t1, slot);
        }

        TrimGhosts();
    }

    /// <summary>
    /// The target p is scaled to the new limit (the learned split between recency and frequency is kept) and the ghost
    /// lists are cut to ARC's directory bounds for it, oldest ghosts first.
    /// </summary>
    protected override void OnResize(int previous)
    {
        _p = Math.Clamp(_p * Limit / previous, 0.0, Limit);
        TrimGhosts();
    }

    private void TrimGhosts()
    {
        // Directory bounds of ARC: |T1| + |B1| <= c and |T1| + |T2| + |B1| + |B2| <= 2c (c the limit).
        while (_t1.Count + _b1.Count > Limit && _b1.RemoveOldest())
        {
        }

        while (_t1.Count + _t2.Count + _b1.Count + _b2.Count > 2 * Limit && _b2.RemoveOldest())
        {
        }
    }

    /// <inheritdoc />
    public override void OnHit(int slot)
    {
        if (_inT2[slot])
        {
            _links.MoveToTail(ref _t2, slot);
        }
        else
        {
            _links.Remove(ref _t1, slot);
            _inT2[slot] = true;
            _links.PushTail(ref _t2, slot);
        }
    }

    /// <inheritdoc />
    public override void OnRemove(int slot)
    {
        bool evicted = slot == _pendingVictim;
        if (_inT2[slot])
        {
            _links.Remove(ref _t2, slot);
            if (evicted)
            {
                _b2.AddNewest(_keys[slot]);
            }
        }
        else
        {
            _links.Remove(ref _t1, slot);
            if (evicted)
            {
                _b1.AddNewest(_keys[slot]);
            }
        }

        if (evicted)
        {
            _pendingVictim = -1;
        }
    }

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        // ARC's REPLACE: take T1's LRU when T1 exceeds its target (or meets it and the incoming key is a B2 ghost).
        bool fromT1 = _t1.Count > 0 && (_t1.Count > _p || (_t1.Count == (int)_p && _b2.Contains(incoming)) || _t2.Count == 0);
        int v = fromT1 ? First(_t1, candidates) : First(_t2, candidates);
        if (v < 0)
        {
            v = fromT1 ? First(_t2, candidates) : First(_t1, candidates);
        }

        return _pendingVictim = v;
    }

    private int First(SlotList list, IEvictionCandidates candidates)
    {
        for (int s = list.Head; s >= 0; s = _links.Next(s))
        {
            if (candidates.CanEvict(s))
            {
                return s;
            }
        }

        return -1;
    }
}
