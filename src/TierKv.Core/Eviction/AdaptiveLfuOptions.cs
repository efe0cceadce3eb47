namespace TierKv.Eviction;

/// <summary>Settings of <see cref="AdaptiveLfuPolicy"/>. The defaults are generic, not fitted to one trace (docs/analysis.md).</summary>
public sealed record AdaptiveLfuOptions
{
    /// <summary>The defaults.</summary>
    public static AdaptiveLfuOptions Default { get; } = new();

    /// <summary>Recency weight at start.</summary>
    public double InitialRecencyWeight { get; init; } = 1.0;

    /// <summary>Smallest recency weight: bounds the credit of a chunk seen before to <c>FrequencyCap / MinRecencyWeight</c> turnovers.</summary>
    public double MinRecencyWeight { get; init; } = 0.5;

    /// <summary>Largest recency weight (a credit this small leaves LRU order nearly unchanged).</summary>
    public double MaxRecencyWeight { get; init; } = 64.0;

    /// <summary>Multiplicative step of the recency weight per access on which the policy and the shadow LRU disagree.</summary>
    public double AdaptRate { get; init; } = 0.001;

    /// <summary>Frequency sketch counters per slot.</summary>
    public int SketchWidthPerSlot { get; init; } = 16;

    /// <summary>Fewest frequency sketch counters (keys of evicted chunks are remembered there).</summary>
    public int MinSketchWidth { get; init; } = 1 << 20;

    /// <summary>Halve all remembered counts after this many accesses per slot (0: after 10 x sketch width).</summary>
    public int HalvingPeriodPerSlot { get; init; }

    /// <summary>Largest remembered count that raises a priority (0: no cap, up to the sketch's 255). Default 2: never seen, seen once, seen more.</summary>
    public int FrequencyCap { get; init; } = 2;

    /// <summary>
    /// Demote new request tails by their measured reuse (see <see cref="AdaptiveLfuPolicy"/>). Costs one byte of
    /// per-key class memory per sketch counter.
    /// </summary>
    public bool DemoteTails { get; init; } = true;

    /// <summary>Fewest new interior chunks over which the tail reuse estimate is kept before it is halved (else the capacity).</summary>
    public int MinTailWindow { get; init; } = 1024;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (!(MinRecencyWeight > 0) || !(MaxRecencyWeight >= MinRecencyWeight) || InitialRecencyWeight < MinRecencyWeight || InitialRecencyWeight > MaxRecencyWeight)
        {
            throw new ArgumentOutOfRangeException(nameof(InitialRecencyWeight), "Need 0 < MinRecencyWeight <= InitialRecencyWeight <= MaxRecencyWeight.");
        }

        if (!(AdaptRate >= 0 && AdaptRate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(AdaptRate), AdaptRate, "AdaptRate must be in [0, 1).");
        }

        if (FrequencyCap < 0 || HalvingPeriodPerSlot < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(FrequencyCap), "FrequencyCap and HalvingPeriodPerSlot must not be negative.");
        }

        if (MinTailWindow < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MinTailWindow), MinTailWindow, "MinTailWindow must be positive.");
        }

        if (SketchWidthPerSlot < 1 || MinSketchWidth < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SketchWidthPerSlot), "Sketch widths must be positive.");
        }
    }
}
