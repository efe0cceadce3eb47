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
}
