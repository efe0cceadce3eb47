using TierKv.Rebalancing;

namespace TierKv.Server;

/// <summary>
/// The <c>Server:Rebalance</c> settings: DRAM shared among tenants by gain (docs/operations.md, "DRAM shared among
/// tenants"). Off by default; with it on, each tenant's DRAM pool is allocated at its <c>MaxQuotaBytes</c> and its limit
/// starts at <c>QuotaBytes</c>, and every <see cref="IntervalSeconds"/> a step of capacity moves from the tenant whose
/// live curve says it loses least to the one whose curve says it gains most, within each tenant's minimum and maximum.
/// </summary>
public sealed record ServerRebalanceOptions
{
    /// <summary>Move DRAM between tenants (needs two or more tenants and <c>Curves:Enabled</c>).</summary>
    public bool Enabled { get; init; }

    /// <summary>Seconds between two rebalancing steps.</summary>
    public double IntervalSeconds { get; init; } = 10;

    /// <summary>Most bytes one step moves; 0: a 64th of the DRAM the tenants share.</summary>
    public long StepBytes { get; init; }

    /// <summary>Gain in summed hit ratio a new target split must promise before capacity moves toward it.</summary>
    public double Hysteresis { get; init; } = new RebalanceOptions().Hysteresis;

    /// <summary>Accesses (all tenants) before the first move, as a multiple of the DRAM shared in slots.</summary>
    public double WarmupMultiple { get; init; } = new RebalanceOptions().WarmupMultiple;

    /// <summary>How much of the curves' history each step keeps (1: all since start).</summary>
    public double CurveDecay { get; init; } = new RebalanceOptions().CurveDecay;

    /// <summary>The rebalancer's options for tiers of <paramref name="slotBytes"/> slots sharing <paramref name="sharedSlots"/>.</summary>
    public RebalanceOptions ToRebalanceOptions(long slotBytes, int sharedSlots) => new()
    {
        StepSlots = StepBytes > 0 ? (int)Math.Clamp(StepBytes / slotBytes, 1, int.MaxValue) : Math.Max(1, sharedSlots / 64),
        Hysteresis = Hysteresis,
        WarmupMultiple = WarmupMultiple,
        CurveDecay = CurveDecay,
    };

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (!double.IsFinite(IntervalSeconds) || IntervalSeconds < 0.01 || IntervalSeconds > 86400)
        {
            throw new ArgumentException($"Server:Rebalance:IntervalSeconds must be in [0.01, 86400]; got {IntervalSeconds}.");
        }

        if (StepBytes < 0)
        {
            throw new ArgumentException($"Server:Rebalance:StepBytes must be 0 (a 64th of the shared DRAM) or positive; got {StepBytes}.");
        }

        try
        {
            new RebalanceOptions { Hysteresis = Hysteresis, WarmupMultiple = WarmupMultiple, CurveDecay = CurveDecay }.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException("Server:" + e.Message.Split(" (Parameter", 2)[0].Split(Environment.NewLine)[0], e);
        }
    }
}
