using TierKv.Curves;
using TierKv.Metrics;
using TierKv.Nvme.CrashChild;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>The SSD tier's live miss-ratio curve (docs/operations.md, "Live curves") against an LRU written out here.</summary>
public sealed class SsdCurveTests
{
    [Fact]
    public async Task Ssd_tier_estimates_lru_at_every_size_from_the_stream_it_sees()
    {
        using var dir = new TempDir();
        var curves = new MissRatioCurveOptions { Multiples = [0.5, 1, 2] };
        using var metrics = new TierKvMetrics();
        using var tier = new NvmeTier(NvmeTierTests.Options(dir.Path, chunks: 16) with { Curves = curves }, metrics);
        Assert.Same(tier.Curves, metrics.ForTier("ssd").Curves);

        // Reads of single chunks (no parents: every hit is a prefix hit), a miss written after it, over 40 keys.
        var rng = new Random(12);
        var stream = new long[600];
        for (int i = 0; i < stream.Length; i++)
        {
            stream[i] = rng.Next(40);
        }

        foreach (long n in stream)
        {
            if (await NvmeTierTests.ReadAsync(tier, n) is null)
            {
                Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(TestChunks.Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n)));
            }
        }

        tier.Curves!.Flush();
        var points = tier.Curves.Snapshot();
        Assert.Equal([8L, 16, 32], points.Select(p => p.Capacity));

        // Every access is a read hit or an insert (a miss followed by its write): the curve's accesses are the stream's.
        Assert.Equal(stream.Length, tier.Curves.ObservedAccesses);
        foreach (var p in points)
        {
            Assert.True(Math.Abs(LruHitRatio(stream, (int)p.Capacity) - p.HitRatio) < 1e-12, $"{p.Capacity}: {LruHitRatio(stream, (int)p.Capacity)} {p.HitRatio} all {string.Join(" ", points.Select(q => q.HitRatio))}");
        }
    }

    [Fact]
    public async Task Chunks_found_at_recovery_are_not_accesses()
    {
        using var dir = new TempDir();
        var options = NvmeTierTests.Options(dir.Path) with { Curves = new MissRatioCurveOptions() };
        using (var first = new NvmeTier(options))
        {
            for (int n = 0; n < 5; n++)
            {
                await first.WriteAsync(TestChunks.Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n));
            }
        }

        using var reopened = new NvmeTier(options);
        Assert.Equal(5, reopened.ChunkCount);
        Assert.Equal(0, reopened.Curves!.ObservedAccesses);
    }

    private static double LruHitRatio(long[] stream, int size)
    {
        var order = new List<long>();
        int hits = 0;
        foreach (long n in stream)
        {
            int at = order.IndexOf(n);
            if (at >= 0)
            {
                hits++;
                order.RemoveAt(at);
            }
            else if (order.Count == size)
            {
                order.RemoveAt(0);
            }

            order.Add(n);
        }

        return (double)hits / stream.Length;
    }
}
