namespace TierKv.Rebalancing;

/// <summary>
/// Shares DRAM among tenants' tiers by gain: each <see cref="Step"/> reads every tier's live curve and access count,
/// asks a <see cref="CapacityRebalancer"/> for one move, lowers the giver's slot limit and evicts down to it (the normal
/// eviction path: write-back below and versions hold, leased chunks stay until released), then raises the receiver's.
/// The sum of the limits stays what it was at the start. The caller decides when steps happen (a timer in the daemon,
/// replay progress in <c>tierkv replay-tenants</c>); steps must not overlap.
/// </summary>
public sealed class DramRebalancer
{
    private readonly RebalancedTier[] _tiers;
    private readonly TenantCapacity[] _state;
    private readonly DecayedCurve[] _curves;
    private readonly CapacityRebalancer _rebalancer;
    private long _moves;
    private long _movedSlots;

    /// <summary>Rebalances <paramref name="tiers"/> (two or more) with <paramref name="options"/>.</summary>
    public DramRebalancer(IReadOnlyList<RebalancedTier> tiers, RebalanceOptions options)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        if (tiers.Count < 2)
        {
            throw new ArgumentException("Rebalancing needs at least two tenants.", nameof(tiers));
        }

        _tiers = [.. tiers];
        _state = new TenantCapacity[_tiers.Length];
        _curves = [.. _tiers.Select(_ => new DecayedCurve())];
        _rebalancer = new CapacityRebalancer(options);
        foreach (var t in _tiers)
        {
            t.LowestSlots = t.Tier.SlotLimit;
        }
    }

    /// <summary>The tiers, in the order moves name them.</summary>
    public IReadOnlyList<RebalancedTier> Tiers => _tiers;

    /// <summary>The split the moves go toward, in slots (null before the first step).</summary>
    public IReadOnlyList<int>? TargetSlots => _rebalancer.Target;

    /// <summary>Moves made.</summary>
    public long Moves => Interlocked.Read(ref _moves);

    /// <summary>Slots moved, all moves together.</summary>
    public long MovedSlots => Interlocked.Read(ref _movedSlots);

    /// <summary>Chunks evicted to bring givers down to their new limits.</summary>
    public long TrimmedChunks { get; private set; }

    /// <summary>One rebalancing step; the move made, or null.</summary>
    public RebalanceMove? Step()
    {
        double seen = 0, shared = 0;
        for (int i = 0; i < _tiers.Length; i++)
        {
            var t = _tiers[i];

            // A trim that leased chunks held up last time finishes first.
            TrimmedChunks += t.Tier.TrimToLimit();
            var curves = t.Tier.Curves!;
            var (curve, weight) = _curves[i].Update(curves.Snapshot(), t.Tier.PolicyName, curves.ObservedAccesses, _rebalancer.Options.CurveDecay);
            _state[i] = new TenantCapacity(t.MinSlots, t.MaxSlots, t.Tier.SlotLimit, weight, curve);
            seen += curves.ObservedAccesses;
            shared += t.Tier.SlotLimit;
        }

        if (seen < _rebalancer.Options.WarmupMultiple * shared || _rebalancer.Next(_state) is not { } move)
        {
            return null;
        }

        var from = _tiers[move.From];
        var to = _tiers[move.To];
        from.Tier.SetSlotLimit(from.Tier.SlotLimit - move.Slots);
        TrimmedChunks += from.Tier.TrimToLimit();
        to.Tier.SetSlotLimit(to.Tier.SlotLimit + move.Slots);
        from.LowestSlots = Math.Min(from.LowestSlots, from.Tier.SlotLimit);
        Interlocked.Increment(ref _moves);
        Interlocked.Add(ref _movedSlots, move.Slots);
        return move;
    }
}
