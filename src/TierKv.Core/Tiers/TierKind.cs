namespace TierKv.Tiers;

/// <summary>The medium a tier keeps chunks on, fastest first.</summary>
public enum TierKind
{
    /// <summary>GPU memory (the engine's paged KV).</summary>
    Gpu = 0,

    /// <summary>Host DRAM (pinned when a GPU is present).</summary>
    Dram = 1,

    /// <summary>Local NVMe SSD.</summary>
    Ssd = 2,

    /// <summary>A shared Redis-protocol cluster across machines.</summary>
    Remote = 3,
}
