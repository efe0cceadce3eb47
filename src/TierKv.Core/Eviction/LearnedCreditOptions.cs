namespace TierKv.Eviction;

/// <summary>Settings of <see cref="LearnedCreditPolicy"/> (research/policy/README.md explains each).</summary>
public sealed record LearnedCreditOptions
{
    /// <summary>The settings of the <c>lc</c> policy.</summary>
    public static LearnedCreditOptions Default { get; } = new();

    /// <summary>Expected occupancy the retention times are priced to fill, in capacities (1: exactly the capacity).</summary>
    public double Occupancy { get; init; } = 1.0;

    /// <summary>Pseudo-count that shrinks each class's reuse hazards towards its reuse level's (Kaplan-Meier with a prior).</summary>
    public double Shrinkage { get; init; } = 50.0;

    /// <summary>Accesses recorded before retention times are learned (until then the order is LRU by request).</summary>
    public long MinAccesses { get; init; } = 10_000;

    /// <summary>
    /// Whether the capacity the priced plan leaves to chunks past their retention is filled by the marginal class, as far
    /// as the measured occupancy allows (docs/analysis.md, "Filling the capacity"; false: the priced plan alone, as before).
    /// </summary>
    public bool Fill { get; init; } = true;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (!(Occupancy > 0) || double.IsInfinity(Occupancy))
        {
            throw new ArgumentOutOfRangeException(nameof(Occupancy), Occupancy, "Occupancy must be positive and finite.");
        }

        if (!(Shrinkage >= 0) || double.IsInfinity(Shrinkage))
        {
            throw new ArgumentOutOfRangeException(nameof(Shrinkage), Shrinkage, "Shrinkage must not be negative.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(MinAccesses);
    }
}
