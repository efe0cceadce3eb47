namespace TierKv.Analysis.Replay;

/// <summary>What one run of a <see cref="SharedDramReplay"/> measured, per tenant and together.</summary>
/// <param name="HitBlocks">Prefix-hit blocks of each tenant.</param>
/// <param name="Blocks">Blocks each tenant's requests asked for.</param>
/// <param name="StartBlocks">Each tenant's DRAM blocks at the start.</param>
/// <param name="EndBlocks">Each tenant's DRAM blocks at the end.</param>
/// <param name="LowestBlocks">The fewest DRAM blocks each tenant had during the run.</param>
public sealed record SharedReplayRun(long[] HitBlocks, long[] Blocks, int[] StartBlocks, int[] EndBlocks, int[] LowestBlocks)
{
    /// <summary>Hit blocks of all tenants over all their blocks (the summed hit ratio the rebalancer maximises).</summary>
    public double HitRatio
    {
        get
        {
            long h = 0, b = 0;
            for (int i = 0; i < Blocks.Length; i++)
            {
                h += HitBlocks[i];
                b += Blocks[i];
            }

            return b == 0 ? 0 : (double)h / b;
        }
    }

    /// <summary>Tenant <paramref name="i"/>'s own hit ratio.</summary>
    public double TenantHitRatio(int i) => Blocks[i] == 0 ? 0 : (double)HitBlocks[i] / Blocks[i];

    /// <summary>Moves the rebalancer made (0 in a static run).</summary>
    public long Moves { get; init; }

    /// <summary>Each tenant's blocks after every move, with the request count (all tenants) it happened at.</summary>
    public IReadOnlyList<(long Request, int[] Blocks)> Timeline { get; init; } = [];
}
