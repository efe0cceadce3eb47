using TierKv.Keys;
using TierKv.Nvme.CrashChild;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

public sealed class ConcurrencyStressTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;

    [Theory]
    [InlineData(LowerTierWriteMode.WriteBack)]
    [InlineData(LowerTierWriteMode.WriteThrough)]
    public async Task Many_threads_storing_retrieving_and_prefetching_across_DRAM_and_SSD_only_ever_see_the_stored_bytes(LowerTierWriteMode mode)
    {
        // Reference model: chunk n's bytes are a pure function of n, so every byte any reader sees can be checked,
        // whatever eviction, promotion and write-back did in between. Capacities are far below the key space.
        using var dir = new TempDir();
        const int keySpace = 40;
        const int threads = 4;
        const int opsPerThread = 400;
        int cb = Layout.ChunkBytes;
        using var store = TieredStorePolicyTests.Stack(dir.Path, dramChunks: 4, ssdChunks: 12, new TieredStoreOptions { WriteMode = mode });
        long wrong = 0;
        long hits = 0;
        var workers = new Task[threads];
        for (int t = 0; t < threads; t++)
        {
            int seed = t;
            workers[t] = Task.Run(async () =>
            {
                var rng = new Random(seed);
                var payload = new byte[2 * cb];
                var dest = new byte[2 * cb];
                var expected = new byte[cb];
                for (int op = 0; op < opsPerThread; op++)
                {
                    int n = rng.Next(keySpace - 1);
                    var keys = new[] { TestChunks.Key(n), TestChunks.Key(n + 1) };
                    switch (rng.Next(4))
                    {
                        case 0:
                            TestChunks.Fill(n, payload.AsSpan(0, cb));
                            TestChunks.Fill(n + 1, payload.AsSpan(cb, cb));
                            store.Store(Layout, keys, payload);
                            break;
                        case 1:
                            _ = await store.PrefetchAsync(Layout, keys);
                            break;
                        case 2:
                            _ = await store.RetrieveAsync(Layout, keys, dest);
                            int gotAsync = store.Lookup(Layout, keys) / Layout.TokensPerChunk;
                            _ = gotAsync;
                            break;
                        default:
                            int got = store.Retrieve(Layout, keys, dest);
                            for (int i = 0; i < got; i++)
                            {
                                TestChunks.Fill(n + i, expected);
                                Interlocked.Increment(ref hits);
                                if (!expected.AsSpan().SequenceEqual(dest.AsSpan(i * cb, cb)))
                                {
                                    Interlocked.Increment(ref wrong);
                                }
                            }

                            break;
                    }
                }
            });
        }

        await Task.WhenAll(workers);
        await store.DrainAsync();
        Assert.Equal(0, wrong);
        Assert.True(hits > 0, "the workload produced no hits to check");

        // Quiesced: both tiers within capacity, and every resident chunk reads back as the model says.
        var dram = store.Tiers[0];
        var ssd = (NvmeTier)store.Tiers[1];
        Assert.True(dram.UsedBytes <= dram.CapacityBytes);
        Assert.True(ssd.UsedBytes <= ssd.CapacityBytes);
        Assert.Equal(0, ssd.DamagedReads);
        var buf = new byte[cb];
        var exp = new byte[cb];
        for (int n = 0; n < keySpace; n++)
        {
            foreach (var tier in store.Tiers)
            {
                if (tier.Contains(TestChunks.Key(n)))
                {
                    Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(Layout, TestChunks.Key(n), buf));
                    TestChunks.Fill(n, exp);
                    Assert.Equal(exp, buf);
                }
            }
        }
    }
}
