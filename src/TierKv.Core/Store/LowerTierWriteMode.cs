namespace TierKv.Store;

/// <summary>When the tiered store copies a chunk from DRAM to the tier below it (the SSD).</summary>
public enum LowerTierWriteMode
{
    /// <summary>When DRAM evicts the chunk: the SSD only sees what DRAM could not keep (the default).</summary>
    WriteBack,

    /// <summary>As soon as the chunk is stored in DRAM: every chunk also lands on the SSD (survives a restart sooner).</summary>
    WriteThrough,
}
