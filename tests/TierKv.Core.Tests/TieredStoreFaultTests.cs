using TierKv.Keys;
using TierKv.Store;
using TierKv.Tests;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests;

/// <summary>
/// Which exceptions from a tier are faults of its medium (counted, served as a miss or a failed write) and which reach
/// the caller: one rule for the synchronous and the asynchronous flows (docs/core.md, "The tiered store").
/// </summary>
public class TieredStoreFaultTests
{
    [Fact]
    public async Task A_tier_that_times_out_is_a_medium_fault_for_the_synchronous_and_the_asynchronous_store()
    {
        // A cancellation nobody asked for is how a client library reports a timeout.
        var remote = new FakeRemoteTier { Throws = _ => new OperationCanceledException() };
        using var store = NewStore(Dram(8), remote);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(16));
        var payload = PayloadForPrefix(keys);
        int half = payload.Length / 2;

        Assert.Equal(2, store.Store(Tiny, keys, payload.AsSpan(0, half)));
        Assert.Equal(2, await store.StoreAsync(Tiny, keys, payload.AsMemory(half), firstChunk: 2));

        Assert.Equal(16, store.Lookup(Tiny, keys));
        Assert.Equal(4, store.Metrics.ForTier(remote.Name).IoErrors);
    }

    [Fact]
    public async Task A_read_that_times_out_is_a_miss_for_the_synchronous_and_the_asynchronous_retrieve()
    {
        var (remote, keys) = RemoteHoldingTwoChunks();
        remote.Throws = _ => new TimeoutException();
        using var reader = new TieredStore([Dram(8, name: "dram-b"), remote], ownsTiers: false);
        var dst = new byte[keys.Length * Tiny.ChunkBytes];
        Assert.Equal(0, reader.Retrieve(Tiny, keys, dst));
        Assert.Equal(0, await reader.RetrieveAsync(Tiny, keys, dst));
        Assert.True(reader.Metrics.ForTier(remote.Name).IoErrors >= 2);
    }

    [Fact]
    public async Task The_cancellation_the_caller_asked_for_reaches_the_caller()
    {
        var (remote, keys) = RemoteHoldingTwoChunks();
        remote.Throws = ct => new OperationCanceledException(ct);
        using var reader = new TieredStore([Dram(8, name: "dram-b"), remote], ownsTiers: false);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await reader.RetrieveAsync(Tiny, keys, new byte[keys.Length * Tiny.ChunkBytes], cancellationToken: cts.Token));
        Assert.Equal(0, reader.Metrics.ForTier(remote.Name).IoErrors);
    }

    [Fact]
    public async Task A_bad_argument_from_a_tier_is_a_bug_and_reaches_the_caller()
    {
        var remote = new FakeRemoteTier { Throws = _ => new ArgumentException("a tier's bug") };
        using var store = NewStore(Dram(8), remote);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(8));
        Assert.Throws<ArgumentException>(() => store.Store(Tiny, keys, PayloadForPrefix(keys)));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.StoreAsync(Tiny, keys, PayloadForPrefix(keys)));
    }

    [SkippableFact]
    public void The_synchronous_store_into_dram_allocates_nothing_per_chunk()
    {
        Skip.IfNot(OptimizedBuild.Of(typeof(TieredStore)), OptimizedBuild.SkipReason);

        // One chunk per call, as a replay stores: the shared flow completes synchronously for DRAM.
        using var store = NewStore(Dram(64));
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(4 * 640));
        var payload = PayloadForPrefix(keys[..1]);
        int next = 0;

        // Warm up: fill and evict a few times, so the policy's structures and this call path are at their steady state.
        while (next < 320)
        {
            Store(next++);
        }

        long allocated = long.MaxValue;
        for (int pass = 0; pass < 2; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 160; i++)
            {
                Store(next++);
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);

        void Store(int i)
        {
            if (store.Store(Tiny, keys.AsSpan(0, i + 1), payload, firstChunk: i) != 1)
            {
                Assert.Fail("a new chunk was not stored");
            }
        }
    }

    /// <summary>A remote tier holding the two chunks of an 8-token prefix, stored by another host's store.</summary>
    private static (FakeRemoteTier Remote, ChunkKey[] Keys) RemoteHoldingTwoChunks()
    {
        var remote = new FakeRemoteTier();
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(8));
        using (var writer = new TieredStore([Dram(8), remote], ownsTiers: false))
        {
            Assert.Equal(2, writer.Store(Tiny, keys, PayloadForPrefix(keys)));
        }

        return (remote, keys);
    }
}
