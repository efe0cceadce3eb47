using TierKv.Analysis.Replay;
using TierKv.Analysis.Traces;
using TierKv.Rebalancing;
using Xunit.Abstractions;

namespace TierKv.Analysis.Tests;

/// <summary>Two tenants sharing DRAM (docs/operations.md, "DRAM shared among tenants"): rebalanced against the best static split.</summary>
public sealed class SharedReplayTests(ITestOutputHelper output)
{
    private const int Total = 1600;

    private static SharedReplayOptions Options => new()
    {
        TotalBlocks = Total,
        MinBlocks = [Total / 10, Total / 10],
        MaxBlocks = [Total * 9 / 10, Total * 9 / 10],
        Policy = "lru",
        ChunkBytes = 256,
        RebalanceEvery = 100,
        Rebalance = new RebalanceOptions { StepSlots = Total / 40 },
    };

    public static TheoryData<string> Scenarios => ["chat+scan", "chat+documents"];

    private static RequestTrace[] Traces(string scenario)
    {
        var chat = TraceFixtures.SyntheticChat(seed: 5, requests: 6000, sessions: 300);
        return scenario == "chat+scan" ? [chat, ScanTrace.Beside(chat, 6)] : [chat, TraceFixtures.SyntheticDocuments(seed: 6, requests: 6000, documents: 120)];
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Rebalancing_reaches_the_best_static_split_and_keeps_every_minimum(string scenario)
    {
        var replay = new SharedDramReplay(Traces(scenario), Options);
        var statics = replay.StaticSplits(16).Select(s => (Split: s, Run: replay.Run(s, rebalance: false))).ToList();
        var best = statics.MaxBy(s => s.Run.HitRatio);
        var even = new[] { Total / 2, Total - (Total / 2) };
        var rebalanced = replay.Run(even, rebalance: true);
        foreach (var (split, run) in statics)
        {
            output.WriteLine($"static {split[0]}/{split[1]}: {run.HitRatio:F4}");
        }

        output.WriteLine($"rebalanced: {rebalanced.HitRatio:F4} after {rebalanced.Moves} moves, ending {rebalanced.EndBlocks[0]}/{rebalanced.EndBlocks[1]}, lowest {rebalanced.LowestBlocks[0]}/{rebalanced.LowestBlocks[1]}");
        Assert.True(rebalanced.HitRatio >= best.Run.HitRatio - 0.01, $"rebalanced {rebalanced.HitRatio:F4} < best static {best.Run.HitRatio:F4} ({best.Split[0]}/{best.Split[1]}) - 0.01");
        Assert.True(rebalanced.Moves > 0);
        for (int i = 0; i < 2; i++)
        {
            Assert.True(rebalanced.LowestBlocks[i] >= Options.MinBlocks[i]);
            Assert.True(rebalanced.Timeline.All(p => p.Blocks[i] >= Options.MinBlocks[i] && p.Blocks[i] <= Options.MaxBlocks[i]));
        }

        Assert.All(rebalanced.Timeline, p => Assert.Equal(Total, p.Blocks.Sum()));
    }

    [Theory]
    [InlineData("lru", 0.0)]
    [InlineData("s3fifo", 0.0)]
    [InlineData("arc", 0.0)]
    [InlineData("alfu", 0.0)]
    [InlineData("leader", 0.0)]
    [InlineData("lc", 0.002)]
    [InlineData("hedge", 0.002)]
    public void A_tier_held_below_its_pool_hits_as_a_static_tier_of_that_size(string policy, double tolerance)
    {
        // The rebalanced tiers' pools are their maxima (1,440 blocks) and their limits the even split (800): the policy
        // follows the limit, so it evicts as one built for 800. lc's sketch stays as wide as the pool (fewer
        // collisions), the only difference, hence the tolerance for lc and hedge.
        var options = Options with { Policy = policy, Rebalance = Options.Rebalance with { Hysteresis = 1 } };
        var replay = new SharedDramReplay(Traces("chat+documents"), options);
        var even = new[] { Total / 2, Total - (Total / 2) };
        var fixedSplit = replay.Run(even, rebalance: false);
        var held = replay.Run(even, rebalance: true);
        output.WriteLine($"{policy}: static {fixedSplit.HitRatio:F4}, held below the pool {held.HitRatio:F4}");
        Assert.Equal(0, held.Moves);
        Assert.True(Math.Abs(held.HitRatio - fixedSplit.HitRatio) <= tolerance, $"{policy}: static {fixedSplit.HitRatio:F4}, held below the pool {held.HitRatio:F4}");
    }
}
