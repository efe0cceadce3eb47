namespace TierKv.Analysis.Replay;

/// <summary>What a replay measured.</summary>
/// <param name="Policy">DRAM tier's policy.</param>
/// <param name="HitBlocks">Blocks in the leading cached run of their request (any tier) that were served.</param>
/// <param name="Blocks">All blocks of all requests.</param>
/// <param name="HitTokens">Tokens of the hit blocks (prefill that need not be recomputed).</param>
/// <param name="BytesRead">Bytes copied out of the store.</param>
/// <param name="BytesWritten">Bytes stored into the first tier.</param>
/// <param name="Seconds">Wall time of the replay.</param>
public sealed record ReplayResult(string Policy, long HitBlocks, long Blocks, long HitTokens, long BytesRead, long BytesWritten, double Seconds)
{
    /// <summary>Hit blocks / all blocks.</summary>
    public double HitRatio => Blocks == 0 ? 0 : (double)HitBlocks / Blocks;

    /// <summary>Chunks evicted from DRAM that the tier below shed because its write queue was full.</summary>
    public long ShedWrites { get; init; }

    /// <summary>Write-backs that found the SSD's write queue full and waited for room (<c>WriteBackOverflow.Wait</c>).</summary>
    public long WriteBackWaits { get; init; }

    /// <summary>Of <see cref="WriteBackWaits"/>, those that ran out of time (their chunks are in <see cref="ShedWrites"/>).</summary>
    public long WriteBackWaitTimeouts { get; init; }

    /// <summary>Promotions skipped because DRAM would have evicted into a full write queue (<c>WriteBackOverflow.Wait</c>).</summary>
    public long PromotionsSkipped { get; init; }

    /// <summary>The DRAM tier's live curve at the end (empty when off).</summary>
    public IReadOnlyList<TierKv.Curves.CurvePoint> Curve { get; init; } = [];

    /// <summary>Bytes the DRAM tier's curve estimator holds (0 when off).</summary>
    public long CurveMemoryBytes { get; init; }

    /// <summary>Share of prefix families behind the LRU curve (0 when off).</summary>
    public double CurveLruSampleRate { get; init; }

    /// <summary>Share of prefix families behind the other policies' curves (0 when off or none).</summary>
    public double CurvePolicySampleRate { get; init; }

    /// <summary>Processor time of the curve estimator's background thread during the replay (null when off, inline or unmeasurable).</summary>
    public double? CurveCpuSeconds { get; init; }

    /// <summary>Times the replay found the estimator's ring full and simulated a batch itself (0 when off or inline).</summary>
    public long CurveInlineDrains { get; init; }

    /// <summary>Tier names, fastest first.</summary>
    public IReadOnlyList<string> TierNames { get; init; } = [];

    /// <summary>Hit blocks served by each tier (same order as <see cref="TierNames"/>).</summary>
    public IReadOnlyList<long> TierHitBlocks { get; init; } = [];
}
