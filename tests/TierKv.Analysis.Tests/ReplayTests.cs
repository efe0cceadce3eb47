using TierKv.Analysis.Replay;
using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Tracing;

namespace TierKv.Analysis.Tests;

public class ReplayTests
{
    [Theory]
    [InlineData("lru", 150)]
    [InlineData("alfu", 150)]
    [InlineData("leader", 150)]
    [InlineData("leader", 400)]
    [InlineData("s3fifo", 300)]
    [InlineData("arc", 150)]
    [InlineData("lru-prefix", 150)]
    [InlineData("lc", 150)]
    [InlineData("lc", 400)]
    [InlineData("hedge", 150)]
    [InlineData("hedge", 400)]
    public async Task Replay_through_the_tiered_store_equals_the_simulator(string policy, int capacity)
    {
        var trace = TraceFixtures.SyntheticChat(7, 1500, sessions: 100);
        var sim = PolicySimulator.Run(trace, policy, capacity);
        using var replayer = new TraceReplayer(trace, policy, capacity, 256);
        var rep = await replayer.RunAsync();
        Assert.Equal(sim.HitBlocks, rep.HitBlocks);
        Assert.Equal(sim.Blocks, rep.Blocks);
        Assert.True(sim.HitBlocks > 0);
    }

    [Fact]
    public async Task Replay_with_an_ssd_tier_hits_at_least_as_much_as_dram_alone_and_reports_both_tiers()
    {
        var trace = TraceFixtures.SyntheticChat(5, 800, sessions: 60);
        string dir = Path.Combine(Path.GetTempPath(), $"tierkv-replay-{Guid.NewGuid():N}");
        try
        {
            var dramOnly = PolicySimulator.Run(trace, "lru", 100);
            using var replayer = new TraceReplayer(trace, new ReplayOptions { Policy = "lru", DramBlocks = 100, SsdBlocks = 2000, SsdDirectory = dir, SsdDirectIo = false, ChunkBytes = 4096 });
            var rep = await replayer.RunAsync();
            Assert.Equal(["dram", "ssd"], rep.TierNames);
            Assert.Equal(rep.HitBlocks, rep.TierHitBlocks.Sum());
            Assert.True(rep.TierHitBlocks[1] > 0, "the SSD tier served nothing");
            Assert.True(rep.HitBlocks > dramOnly.HitBlocks, $"{rep.HitBlocks} <= {dramOnly.HitBlocks}");
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Recorded_access_trace_reads_back_and_analyzes_the_same()
    {
        var trace = TraceFixtures.SyntheticChat(3, 400, sessions: 40);
        string path = Path.Combine(Path.GetTempPath(), $"tierkv-{Guid.NewGuid():N}.trace");
        try
        {
            using (var w = AccessTraceWriter.Create(path, trace.BlockTokens))
            {
                using var replayer = new TraceReplayer(trace, "lru", 100, 256, w);
                await replayer.RunAsync();
            }

            var back = TraceFiles.Read(path);
            Assert.Equal(trace.RequestCount, back.RequestCount);
            Assert.Equal(trace.BlockAccesses, back.BlockAccesses);
            Assert.Equal(PolicySimulator.Run(trace, "lru", 100).HitBlocks, PolicySimulator.Run(back, "lru", 100).HitBlocks);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
