namespace TierKv.Rebalancing;

/// <summary>A tenant's DRAM tier under a <see cref="DramRebalancer"/>, with the fewest and most slots it may have.</summary>
public sealed record RebalancedTier
{
    /// <summary>A tier whose limit may move between <paramref name="minSlots"/> and <paramref name="maxSlots"/>.</summary>
    public RebalancedTier(string name, HostMemoryTier tier, int minSlots, int maxSlots)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(tier);
        if (tier.Curves is null)
        {
            throw new ArgumentException($"Tenant '{name}': rebalancing reads the DRAM tier's live curve; turn Curves on.", nameof(tier));
        }

        if (minSlots < 1 || maxSlots > tier.SlotCount || minSlots > maxSlots || tier.SlotLimit < minSlots || tier.SlotLimit > maxSlots)
        {
            throw new ArgumentOutOfRangeException(nameof(minSlots), $"Tenant '{name}': its DRAM slots must satisfy 1 <= minimum ({minSlots}) <= current ({tier.SlotLimit}) <= maximum ({maxSlots}) <= pool ({tier.SlotCount}).");
        }

        Name = name;
        Tier = tier;
        MinSlots = minSlots;
        MaxSlots = maxSlots;
    }

    /// <summary>The tenant's name.</summary>
    public string Name { get; }

    /// <summary>Its DRAM tier.</summary>
    public HostMemoryTier Tier { get; }

    /// <summary>The fewest slots it may be left with.</summary>
    public int MinSlots { get; }

    /// <summary>The most slots it may be given.</summary>
    public int MaxSlots { get; }

    /// <summary>The lowest slot limit it has had under the rebalancer.</summary>
    public int LowestSlots { get; internal set; } = int.MaxValue;
}
