namespace TierKv.Analysis.Simulation;

/// <summary>The outcome of one simulated cache over a trace.</summary>
/// <param name="Policy">Lower-case policy name (<c>lru</c>, <c>belady</c>, ...).</param>
/// <param name="Capacity">Capacity in blocks (<see cref="int.MaxValue"/> for the infinite cache).</param>
/// <param name="HitBlocks">Blocks that were in the leading cached run of their request.</param>
/// <param name="Blocks">All block accesses.</param>
/// <param name="Evictions">Blocks evicted.</param>
public sealed record SimulationResult(string Policy, int Capacity, long HitBlocks, long Blocks, long Evictions)
{
    /// <summary>Hit blocks / all blocks.</summary>
    public double HitRatio => Blocks == 0 ? 0 : (double)HitBlocks / Blocks;
}
