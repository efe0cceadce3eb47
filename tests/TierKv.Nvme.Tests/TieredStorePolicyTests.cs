using TierKv.Keys;
using TierKv.Nvme.CrashChild;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

public sealed class TieredStorePolicyTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;
    private static readonly int Cb = Layout.ChunkBytes;

    internal static TieredStore Stack(string dir, int dramChunks, int ssdChunks, TieredStoreOptions? store = null) =>
        TierStackBuilder.Build(new TierStackOptions
        {
            DataDirectory = dir,
            DramCapacityBytes = (long)dramChunks * Cb,
            SsdCapacityBytes = (long)ssdChunks * Cb,
            ChunkBytes = Cb,
            SsdQueueDepth = 4,
            DramEvictionPolicy = "lru", // these tests reason about which chunk leaves first
            SsdEvictionPolicy = "lru",
            Store = store ?? new TieredStoreOptions(),
            Log = static _ => { },
        });

    internal static ChunkKey[] Keys(int n, int first = 0)
    {
        var k = new ChunkKey[n];
        for (int i = 0; i < n; i++)
        {
            k[i] = TestChunks.Key(first + i);
        }

        return k;
    }

    internal static byte[] Payloads(int n, int first = 0)
    {
        var p = new byte[n * Cb];
        for (int i = 0; i < n; i++)
        {
            TestChunks.Fill(first + i, p.AsSpan(i * Cb, Cb));
        }

        return p;
    }

    [Fact]
    public async Task Write_back_moves_DRAM_evictions_to_SSD_and_retrieve_finds_the_whole_prefix()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, dramChunks: 2, ssdChunks: 8);
        var keys = Keys(5);
        var payload = Payloads(5);
        Assert.Equal(5, store.Store(Layout, keys, payload));
        await store.DrainAsync();
        var ssd = (NvmeTier)store.Tiers[1];
        Assert.Equal(3, ssd.ChunkCount); // chunks 0..2 left DRAM and were written back
        Assert.Equal(3, store.WrittenBack);
        Assert.Equal(5 * Layout.TokensPerChunk, store.Lookup(Layout, keys));

        var dest = new byte[5 * Cb];
        var servedBy = new TierKind[5];
        Assert.Equal(5, store.Retrieve(Layout, keys, dest, servedBy));
        Assert.Equal(payload, dest);
        Assert.Contains(TierKind.Ssd, servedBy);
        Assert.True(store.Promotions > 0);
    }

    [Fact]
    public async Task Promotion_makes_the_next_retrieve_a_DRAM_hit()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, dramChunks: 2, ssdChunks: 8);
        store.Store(Layout, Keys(3), Payloads(3));
        await store.DrainAsync();
        var dram = (HostMemoryTier)store.Tiers[0];
        Assert.False(dram.Contains(TestChunks.Key(0)));

        var one = Keys(1);
        var dest = new byte[Cb];
        var servedBy = new TierKind[1];
        Assert.Equal(1, store.Retrieve(Layout, one, dest, servedBy));
        Assert.Equal(TierKind.Ssd, servedBy[0]);
        Assert.True(dram.Contains(TestChunks.Key(0)));
        Assert.Equal(1, store.Retrieve(Layout, one, dest, servedBy));
        Assert.Equal(TierKind.Dram, servedBy[0]);
        Assert.Equal(Payloads(1), dest);
    }

    [Fact]
    public async Task No_promotion_when_turned_off()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, dramChunks: 2, ssdChunks: 8, new TieredStoreOptions { PromoteOnHit = false });
        store.Store(Layout, Keys(3), Payloads(3));
        await store.DrainAsync();
        var dest = new byte[Cb];
        Assert.Equal(1, store.Retrieve(Layout, Keys(1), dest));
        Assert.False(store.Tiers[0].Contains(TestChunks.Key(0)));
        Assert.Equal(0, store.Promotions);
    }

    [Fact]
    public async Task Write_through_puts_every_stored_chunk_on_SSD_at_once()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, dramChunks: 8, ssdChunks: 8, new TieredStoreOptions { WriteMode = LowerTierWriteMode.WriteThrough });
        store.Store(Layout, Keys(3), Payloads(3));
        await store.DrainAsync();
        Assert.Equal(3, store.Tiers[0].ChunkCount);
        Assert.Equal(3, store.Tiers[1].ChunkCount);
    }

    [Fact]
    public async Task Seen_twice_admission_keeps_one_hit_chunks_off_the_SSD()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, dramChunks: 2, ssdChunks: 8, new TieredStoreOptions { Admission = LowerTierAdmission.SeenTwice, PromoteOnHit = false });
        var a = Keys(1, first: 100);
        var b = Keys(1, first: 200);
        store.Store(Layout, a, Payloads(1, 100));
        store.Store(Layout, b, Payloads(1, 200));
        Assert.Equal(1, store.Retrieve(Layout, a, new byte[Cb])); // a seen twice, b once

        store.Store(Layout, Keys(2, first: 300), Payloads(2, 300)); // evicts a and b from DRAM
        await store.DrainAsync();
        Assert.True(store.Tiers[1].Contains(a[0]));
        Assert.False(store.Tiers[1].Contains(b[0]));
        Assert.Equal(1, store.NotAdmitted);
    }

    [Fact]
    public async Task Prefetch_moves_SSD_hits_up_to_DRAM_before_retrieve()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, dramChunks: 4, ssdChunks: 8);
        store.Store(Layout, Keys(4), Payloads(4));
        store.Store(Layout, Keys(4, first: 50), Payloads(4, 50)); // pushes the first prefix down to SSD
        await store.DrainAsync();
        var dram = store.Tiers[0];
        Assert.False(dram.Contains(TestChunks.Key(0)));

        int inDram = await store.PrefetchAsync(Layout, Keys(4));
        Assert.Equal(4, inDram);
        Assert.Equal(4, store.Prefetched);
        var servedBy = new TierKind[4];
        var dest = new byte[4 * Cb];
        Assert.Equal(4, store.Retrieve(Layout, Keys(4), dest, servedBy));
        Assert.All(servedBy, k => Assert.Equal(TierKind.Dram, k));
        Assert.Equal(Payloads(4), dest);
    }

    [Fact]
    public async Task Restarted_stack_starts_warm_with_what_DRAM_held()
    {
        using var dir = new TempDir();
        using (var store = Stack(dir.Path, dramChunks: 8, ssdChunks: 8))
        {
            store.Store(Layout, Keys(3), Payloads(3));
            await store.DrainAsync();
            Assert.Equal(0, store.Tiers[1].ChunkCount); // write-back: nothing evicted yet
        }

        using (var store = Stack(dir.Path, dramChunks: 8, ssdChunks: 8))
        {
            Assert.Equal(3 * Layout.TokensPerChunk, store.Lookup(Layout, Keys(3)));
            var dest = new byte[3 * Cb];
            Assert.Equal(3, store.Retrieve(Layout, Keys(3), dest));
            Assert.Equal(Payloads(3), dest);
        }
    }

    [Fact]
    public async Task StoreAsync_with_SSD_below_keeps_writes_in_flight_and_loses_nothing()
    {
        using var dir = new TempDir();

        // The default overflow setting (Wait) with a timeout no healthy disk reaches: a burst of 8 stores into 2 DRAM
        // slots evicts faster than the bounded write-behind queue drains, and the stores wait for room instead of
        // shedding, so every chunk is served (WriteBackOverflowTests covers Shed and the bounded waits).
        using var store = Stack(dir.Path, dramChunks: 2, ssdChunks: 16, new TieredStoreOptions { WriteBackWaitTimeout = TimeSpan.FromSeconds(30) });
        var keys = Keys(10);
        var payloads = Payloads(10);
        Assert.Equal(10, await store.StoreAsync(Layout, keys, payloads));
        await store.DrainAsync();
        Assert.Equal(0, store.ShedWrites);
        Assert.Equal(8, store.WrittenBack); // every chunk DRAM gave up reached the SSD

        var one = new byte[Cb];
        for (int i = 0; i < keys.Length; i++)
        {
            Assert.Equal(1, await store.RetrieveAsync(Layout, keys.AsMemory(i, 1), one));
            Assert.Equal(payloads.AsSpan(i * Cb, Cb).ToArray(), one);
        }
    }
}
