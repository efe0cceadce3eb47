using TierKv.Curves;
using TierKv.Rebalancing;

namespace TierKv.Analysis.Replay;

/// <summary>Settings of a <see cref="SharedDramReplay"/>: the DRAM the tenants share, their bounds, and when the rebalancer runs.</summary>
public sealed record SharedReplayOptions
{
    /// <summary>DRAM blocks shared by all tenants.</summary>
    public int TotalBlocks { get; init; } = 20_000;

    /// <summary>Each tenant's fewest blocks.</summary>
    public IReadOnlyList<int> MinBlocks { get; init; } = [];

    /// <summary>Each tenant's most blocks (the pool each tier allocates).</summary>
    public IReadOnlyList<int> MaxBlocks { get; init; } = [];

    /// <summary>Eviction policy of the tiers.</summary>
    public string Policy { get; init; } = TierKv.Eviction.EvictionPolicies.Default;

    /// <summary>Synthetic payload bytes per block: a positive multiple of 256.</summary>
    public int ChunkBytes { get; init; } = 4096;

    /// <summary>Stretch or shrink each trace's clock so that all span as long as the longest: tenants overlap from start to end.</summary>
    public bool AlignSpans { get; init; }

    /// <summary>Requests (all tenants together) between two rebalancing steps: progress, not wall time, so runs repeat exactly.</summary>
    public int RebalanceEvery { get; init; } = 256;

    /// <summary>The rebalancer's settings (its step in blocks).</summary>
    public RebalanceOptions Rebalance { get; init; } = new();

    /// <summary>The tenants' live curves in the rebalanced run.</summary>
    public MissRatioCurveOptions Curves { get; init; } = new() { Multiples = RebalanceOptions.CurveMultiples };

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate(int tenants)
    {
        if (MinBlocks.Count != tenants || MaxBlocks.Count != tenants)
        {
            throw new ArgumentException($"Each of the {tenants} tenants needs a minimum and a maximum number of blocks.");
        }

        long min = 0, max = 0;
        for (int i = 0; i < tenants; i++)
        {
            if (MinBlocks[i] < 1 || MaxBlocks[i] < MinBlocks[i])
            {
                throw new ArgumentOutOfRangeException(nameof(MinBlocks), $"Tenant {i + 1}: its minimum ({MinBlocks[i]}) must be at least 1 block and at most its maximum ({MaxBlocks[i]}).");
            }

            min += MinBlocks[i];
            max += MaxBlocks[i];
        }

        if (TotalBlocks < min || TotalBlocks > max)
        {
            throw new ArgumentOutOfRangeException(nameof(TotalBlocks), TotalBlocks, $"The shared DRAM ({TotalBlocks} blocks) must lie between the tenants' minimums ({min}) and maximums ({max}) together.");
        }

        if (ChunkBytes < 256 || ChunkBytes % 256 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, "--chunk-bytes must be a positive multiple of 256.");
        }

        if (RebalanceEvery < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RebalanceEvery), RebalanceEvery, "--rebalance-every must be at least 1 request.");
        }

        Rebalance.Validate();
        Curves.Validate();
    }
}
