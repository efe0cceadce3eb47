using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests;

public class TieredStoreTests
{
    [Fact]
    public void Lookup_returns_the_number_of_leading_cached_tokens()
    {
        using var store = NewStore(Dram(64));
        var tokens = Tokens(4 * 10 + 3);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, tokens);
        Assert.Equal(0, store.Lookup(Tiny, TenantSalt.None, tokens));
        Assert.Equal(6, store.Store(Tiny, keys, PayloadForPrefix(keys[..6])));
        Assert.Equal(24, store.Lookup(Tiny, TenantSalt.None, tokens));
        Assert.Equal(24, store.Lookup(Tiny, keys));
        Assert.Equal(8, store.Lookup(Tiny, TenantSalt.None, tokens.AsSpan(0, 11)));
    }

    [Fact]
    public void A_missing_chunk_in_the_middle_ends_the_prefix()
    {
        var dram = Dram(64);
        using var store = NewStore(dram);
        var tokens = Tokens(40);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, tokens);
        store.Store(Tiny, keys, PayloadForPrefix(keys));
        Assert.True(dram.Remove(keys[4]));
        Assert.Equal(16, store.Lookup(Tiny, TenantSalt.None, tokens));
        var dst = new byte[keys.Length * Tiny.ChunkBytes];
        Assert.Equal(4, store.Retrieve(Tiny, keys, dst));
    }

    [Fact]
    public void Another_salt_or_layout_never_hits()
    {
        using var store = NewStore(Dram(64));
        var tokens = Tokens(32);
        store.Store(Tiny, TenantSalt.FromString("a"), tokens, PayloadForPrefix(PrefixHasher.ComputeKeys(Tiny, TenantSalt.FromString("a"), tokens)));
        Assert.Equal(32, store.Lookup(Tiny, TenantSalt.FromString("a"), tokens));
        Assert.Equal(0, store.Lookup(Tiny, TenantSalt.FromString("b"), tokens));
        Assert.Equal(0, store.Lookup(Tiny, TenantSalt.None, tokens));
        var other = new KvLayout("test/tiny", 2, 2, 4, KvElementType.BFloat16, tokensPerChunk: 4);
        Assert.Equal(0, store.Lookup(other, TenantSalt.FromString("a"), tokens));
    }

    [Fact]
    public void Lookup_spans_tiers_and_retrieve_serves_each_chunk_from_the_tier_that_holds_it()
    {
        var fast = Dram(64, name: "dram");
        var slow = Dram(64, name: "dram-b");
        using var store = NewStore(fast, slow);
        var tokens = Tokens(24);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, tokens);
        for (int i = 0; i < keys.Length; i++)
        {
            var tier = i % 2 == 0 ? fast : slow;
            tier.Write(Tiny, keys[i], i > 0 ? keys[i - 1] : null, PayloadFor(keys[i]));
        }

        Assert.Equal(24, store.Lookup(Tiny, keys));
        var dst = new byte[keys.Length * Tiny.ChunkBytes];
        var served = new TierKind[keys.Length];
        Assert.Equal(6, store.Retrieve(Tiny, keys, dst, served));
        Assert.Equal(PayloadForPrefix(keys), dst);
        Assert.Equal(12, store.Metrics.Tiers["dram"].HitTokens);
        Assert.Equal(12, store.Metrics.Tiers["dram-b"].HitTokens);
    }

    [Fact]
    public async Task Remote_tier_is_asked_once_in_a_batch_and_damaged_chunks_are_misses()
    {
        var remote = new FakeRemoteTier();
        using var store = NewStore(Dram(64), remote);
        var tokens = Tokens(40);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, tokens);
        for (int i = 0; i < keys.Length; i++)
        {
            await remote.WriteAsync(Tiny, keys[i], null, PayloadFor(keys[i]));
        }

        Assert.Equal(0, store.Lookup(Tiny, keys)); // local tiers only
        Assert.Equal(40, await store.LookupAsync(Tiny, keys));
        Assert.Equal(1, remote.ExistsCalls);

        remote.Damage(keys[7], 100);
        var dst = new byte[keys.Length * Tiny.ChunkBytes];
        Assert.Equal(7, await store.RetrieveAsync(Tiny, keys, dst));
        Assert.Equal(PayloadForPrefix(keys[..7]), dst.AsSpan(0, 7 * Tiny.ChunkBytes).ToArray());
        Assert.Equal(28, await store.LookupAsync(Tiny, keys)); // the damaged chunk was dropped
    }

    [Fact]
    public async Task A_failing_tier_is_a_miss_never_an_exception()
    {
        var remote = new FakeRemoteTier();
        using var store = NewStore(Dram(4), remote);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(16));
        await store.StoreAsync(Tiny, keys, PayloadForPrefix(keys));
        remote.Failing = true;
        var dst = new byte[keys.Length * Tiny.ChunkBytes];
        Assert.Equal(4, await store.RetrieveAsync(Tiny, keys, dst));
        Assert.Equal(16, await store.LookupAsync(Tiny, keys));
    }

    [Fact]
    public void Bad_input_is_rejected_and_nothing_is_stored()
    {
        var dram = Dram(64);
        using var store = NewStore(dram);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(16));
        var e1 = Assert.Throws<ArgumentException>(() => store.Store(Tiny, keys, new byte[Tiny.ChunkBytes + 1]));
        Assert.Contains("full chunks", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ArgumentException>(() => store.Store(Tiny, keys, new byte[Tiny.ChunkBytes * 5]));
        Assert.Contains("keys", e2.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => store.Store(Tiny, keys, new byte[Tiny.ChunkBytes * 2], firstChunk: 3));
        Assert.Throws<ArgumentException>(() => store.Store(Tiny, keys, []));
        Assert.Equal(0, dram.ChunkCount);
        var e3 = Assert.Throws<ArgumentException>(() => store.Retrieve(Tiny, keys, new byte[10]));
        Assert.Contains("destination", e3.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new TieredStore([]));
        Assert.Throws<ArgumentException>(() => new TieredStore([Dram(2), Dram(2)]));
    }

    [Fact]
    public void Store_from_an_offset_keeps_the_chain()
    {
        using var store = NewStore(Dram(64, "lru-prefix"));
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(32));
        store.Store(Tiny, keys, PayloadForPrefix(keys[..3]));
        store.Store(Tiny, keys, PayloadForPrefix(keys[3..]), firstChunk: 3);
        Assert.Equal(32, store.Lookup(Tiny, keys));
    }

    [Fact]
    public void Metrics_count_lookups_hits_and_evictions()
    {
        using var store = NewStore(Dram(2));
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(16));
        store.Store(Tiny, keys, PayloadForPrefix(keys));
        store.Lookup(Tiny, keys);
        var t = store.Metrics.Tiers["dram"];
        Assert.Equal(1, store.Metrics.Lookups.Count);
        Assert.Equal(16, store.Metrics.Lookups.RequestedTokens);
        Assert.Equal(2, t.Evictions);
        Assert.Equal(4, t.Writes);
        Assert.Equal(0, t.HitTokens); // the first two chunks were evicted: no leading hit
    }
}

public class RemoteSharingTests
{
    [Fact]
    public async Task Chunks_stored_in_dram_are_shared_with_the_remote_tier_so_another_host_hits_them()
    {
        var remote = new FakeRemoteTier();
        var keys = PrefixHasher.ComputeKeys(TestLayouts.Tiny, TenantSalt.None, TestLayouts.Tokens(16));
        using (var hostA = new TieredStore([TestLayouts.Dram(8), remote], ownsTiers: false))
        {
            Assert.Equal(2, await hostA.StoreAsync(TestLayouts.Tiny, keys, TestLayouts.PayloadForPrefix(keys[..2])));
            Assert.Equal(2, hostA.Store(TestLayouts.Tiny, keys, TestLayouts.PayloadForPrefix(keys[2..]), firstChunk: 2));
        }

        Assert.Equal(4, remote.ChunkCount);
        using var hostB = new TieredStore([TestLayouts.Dram(8, name: "dram-b"), remote], ownsTiers: false);
        Assert.Equal(16, await hostB.LookupAsync(TestLayouts.Tiny, keys));
        var dst = new byte[keys.Length * TestLayouts.Tiny.ChunkBytes];
        Assert.Equal(4, await hostB.RetrieveAsync(TestLayouts.Tiny, keys, dst));
        Assert.Equal(TestLayouts.PayloadForPrefix(keys), dst);
    }

    [Fact]
    public async Task A_failing_remote_tier_does_not_fail_the_store()
    {
        var remote = new FakeRemoteTier { Failing = true };
        using var store = new TieredStore([TestLayouts.Dram(8), remote]);
        var keys = PrefixHasher.ComputeKeys(TestLayouts.Tiny, TenantSalt.None, TestLayouts.Tokens(8));
        Assert.Equal(2, await store.StoreAsync(TestLayouts.Tiny, keys, TestLayouts.PayloadForPrefix(keys)));
        Assert.Equal(8, store.Lookup(TestLayouts.Tiny, keys));
    }
}
