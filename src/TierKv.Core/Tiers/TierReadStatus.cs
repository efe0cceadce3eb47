namespace TierKv.Tiers;

/// <summary>Outcome of reading one chunk from a tier. Anything but <see cref="Hit"/> is a miss for the caller.</summary>
public enum TierReadStatus
{
    /// <summary>The chunk was copied into the destination and verified.</summary>
    Hit,

    /// <summary>The tier does not hold the chunk.</summary>
    Miss,

    /// <summary>The tier held a damaged copy (checksum, header); it was counted and dropped.</summary>
    Damaged,

    /// <summary>The medium failed or timed out (I/O error, dead node); counted, treated as a miss.</summary>
    Failed,
}
