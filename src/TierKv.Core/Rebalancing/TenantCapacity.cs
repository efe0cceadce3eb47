namespace TierKv.Rebalancing;

/// <summary>What the rebalancer knows of one tenant's DRAM tier.</summary>
/// <param name="MinSlots">The fewest slots it may be left with.</param>
/// <param name="MaxSlots">The most slots it may be given.</param>
/// <param name="CurrentSlots">Its slot limit now.</param>
/// <param name="Weight">Its accesses over the period its curve covers: a hit ratio times this is hits, comparable across tenants.</param>
/// <param name="Curve">Its estimated hit ratio at each size.</param>
public readonly record struct TenantCapacity(int MinSlots, int MaxSlots, int CurrentSlots, double Weight, CapacityCurve Curve)
{
    /// <summary>Expected hits at <paramref name="slots"/>.</summary>
    public double HitsAt(double slots) => Weight * Curve.HitRatioAt(slots);
}
