namespace TierKv.Rebalancing;

/// <summary>Settings of a <see cref="CapacityRebalancer"/> (docs/operations.md, "DRAM shared among tenants").</summary>
public sealed record RebalanceOptions
{
    /// <summary>
    /// Sizes a rebalanced tier's live curve should estimate, as multiples of its pool (its maximum): dense between the
    /// bounds, where the rebalancer reads the curve.
    /// </summary>
    public static IReadOnlyList<double> CurveMultiples { get; } = [0.0625, 0.125, 0.1875, 0.25, 0.3125, 0.375, 0.5, 0.625, 0.75, 0.875, 1];

    /// <summary>Most slots one move takes from a tenant (the step: capacity moves gradually).</summary>
    public int StepSlots { get; init; } = 64;

    /// <summary>
    /// A new target split is adopted only when the curves say it beats the current target's summed hit ratio by more
    /// than this (hysteresis: noise in the curves does not move capacity back and forth).
    /// </summary>
    public double Hysteresis { get; init; } = 0.002;

    /// <summary>Accesses (all tenants together) the curves must have seen before anything moves.</summary>
    public long MinAccesses { get; init; } = 1024;

    /// <summary>
    /// Accesses (all tenants together) the curves must have seen before anything moves, as a multiple of the capacity
    /// shared: a reuse at distance d shows in a curve only after d accesses, so young curves undervalue large sizes.
    /// </summary>
    public double WarmupMultiple { get; init; } = 2;

    /// <summary>
    /// How much of the curves' history each step keeps (<see cref="DecayedCurve"/>): 1 weighs all accesses since start
    /// alike, lower values follow a changing workload faster at the price of noisier curves.
    /// </summary>
    public double CurveDecay { get; init; } = 0.9;

    /// <summary>Granularity of the search for the best split: the capacity to share is cut into at most this many units.</summary>
    public int PlanUnits { get; init; } = 256;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (StepSlots < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(StepSlots), StepSlots, "Rebalance:Step must be at least one slot.");
        }

        if (!double.IsFinite(Hysteresis) || Hysteresis is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Hysteresis), Hysteresis, "Rebalance:Hysteresis must be a hit ratio in [0, 1].");
        }

        if (MinAccesses < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MinAccesses), MinAccesses, "Rebalance:MinAccesses must not be negative.");
        }

        if (!double.IsFinite(WarmupMultiple) || WarmupMultiple < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(WarmupMultiple), WarmupMultiple, "Rebalance:WarmupMultiple must not be negative.");
        }

        if (!double.IsFinite(CurveDecay) || CurveDecay is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(CurveDecay), CurveDecay, "Rebalance:CurveDecay must be in [0, 1].");
        }

        if (PlanUnits is < 2 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(PlanUnits), PlanUnits, "Rebalance:PlanUnits must be 2 to 4096.");
        }
    }
}
