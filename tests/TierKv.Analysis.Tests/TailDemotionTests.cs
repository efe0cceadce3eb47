using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Eviction;
using TierKv.Keys;
using Xunit.Abstractions;

namespace TierKv.Analysis.Tests;

/// <summary>The default policy's request-tail estimate (docs/analysis.md, "Request tails") on traces with known tails.</summary>
public class TailDemotionTests(ITestOutputHelper output)
{
    private static readonly AdaptiveLfuOptions NoTails = AdaptiveLfuOptions.Default with { DemoteTails = false };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Chat_tails_are_learned_to_be_dead_and_demoting_them_does_not_cost_hits(int seed)
    {
        // Every turn of the synthetic chat ends in a partial block that no later turn reuses.
        var trace = TraceFixtures.SyntheticChat(seed, 6000);
        bool better = false;
        foreach (int cap in new[] { 200, 1000, 3000 })
        {
            var with = new AdaptiveLfuPolicy(cap);
            long hitsWith = new PolicySimulator(trace, with).Run().HitBlocks;
            long hitsWithout = new PolicySimulator(trace, new AdaptiveLfuPolicy(cap, NoTails)).Run().HitBlocks;
            output.WriteLine($"cap {cap}: tail ratio {with.TailReuseRatio:F3}, hits {hitsWith} with tail demotion, {hitsWithout} without");
            Assert.True(with.TailReuseRatio < 0.25, $"cap {cap}: tails were never reused but the estimate is {with.TailReuseRatio:F3}");
            Assert.True(hitsWith >= hitsWithout, $"cap {cap}: {hitsWith} hits with tail demotion < {hitsWithout} without");
            better |= hitsWith > hitsWithout;
        }

        Assert.True(better, "tail demotion gained no hit at any capacity");
    }

    [Fact]
    public void Reused_tails_are_not_demoted()
    {
        // Fixed documents read whole: each request's last block is an ordinary block, reused as often as the others.
        var rng = new Random(7);
        var builder = new RequestTraceBuilder("whole-documents", 512);
        var keys = new List<ChunkKey>();
        for (int r = 0; r < 6000; r++)
        {
            int d = (int)(400 * Math.Pow(rng.NextDouble(), 2.0));
            keys.Clear();
            for (int i = 0; i < 4 + (d % 9); i++)
            {
                keys.Add(RequestTraceBuilder.KeyOfHashId((d * 1000L) + i));
            }

            builder.Add(r, keys.Count * 512, 1, 0, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(keys));
        }

        var trace = builder.Build();
        foreach (int cap in new[] { 300, 1000 })
        {
            var with = new AdaptiveLfuPolicy(cap);
            double hitWith = new PolicySimulator(trace, with).Run().HitRatio;
            double hitWithout = new PolicySimulator(trace, new AdaptiveLfuPolicy(cap, NoTails)).Run().HitRatio;
            double lru = PolicySimulator.Run(trace, "lru", cap).HitRatio;
            output.WriteLine($"cap {cap}: tail ratio {with.TailReuseRatio:F3}, hit ratio {hitWith:F4} with, {hitWithout:F4} without, lru {lru:F4}");
            Assert.True(with.TailReuseRatio > 0.5, $"cap {cap}: reused tails estimated at {with.TailReuseRatio:F3}");
            Assert.True(hitWith >= lru, $"cap {cap}: {hitWith:F4} below lru {lru:F4}");
            Assert.True(hitWith >= hitWithout - 0.01, $"cap {cap}: tail demotion cost {hitWithout - hitWith:F4}");
        }
    }
}
