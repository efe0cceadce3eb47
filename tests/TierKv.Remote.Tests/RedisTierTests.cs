using System.Diagnostics;
using StackExchange.Redis;
using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Remote.Tests;

/// <summary>The remote tier against the shared Redis and Garnet clusters of scripts/ci/services.sh.</summary>
public class RedisTierTests
{
    public static TheoryData<string> Kinds => new() { TestClusters.Redis, TestClusters.Garnet };

    private static KvLayout L => TestData.Layout;

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task Stored_chunks_are_found_by_lookup_and_retrieved_intact(string kind)
    {
        var endpoints = TestClusters.Require(kind);
        await using var tier = await RedisTier.ConnectAsync(TestData.Options(endpoints, TestData.UniquePrefix("store")));
        using var store = new TieredStore([tier], ownsTiers: false);
        const int n = 24;
        var keys = PrefixHasher.ComputeKeys(L, TenantSalt.None, TestData.Tokens(n));
        var payload = TestData.Payload(n);

        Assert.Equal(0, await store.LookupAsync(L, keys));
        Assert.Equal(n, await store.StoreAsync(L, keys, payload));
        Assert.Equal(n * L.TokensPerChunk, await store.LookupAsync(L, keys));
        Assert.Equal(TierWriteStatus.AlreadyPresent, await tier.WriteAsync(L, keys[0], null, payload.AsMemory(0, L.ChunkBytes)));

        var buffer = new byte[payload.Length];
        var servedBy = new TierKind[n];
        Assert.Equal(n, await store.RetrieveAsync(L, keys, buffer, servedBy));
        Assert.Equal(payload, buffer);
        Assert.All(servedBy, k => Assert.Equal(TierKind.Remote, k));

        // A hole ends the prefix: chunk 10 gone (as if the cluster had evicted it) leaves 10 leading chunks.
        Assert.True(await tier.RemoveAsync(keys[10]));
        Assert.Equal(10 * L.TokensPerChunk, await store.LookupAsync(L, keys));
        Assert.Equal(TierReadStatus.Miss, await tier.ReadAsync(L, keys[10], new byte[L.ChunkBytes]));
        Assert.Equal(10, await store.RetrieveAsync(L, keys, buffer));
        Assert.Equal(0, tier.Counters.Failures + tier.Counters.Damaged);
    }

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task Chunks_of_one_request_spread_over_every_node_under_the_readable_prefix(string kind)
    {
        var endpoints = TestClusters.Require(kind);
        string prefix = TestData.UniquePrefix("spread");
        await using var tier = await RedisTier.ConnectAsync(TestData.Options(endpoints, prefix));
        const int n = 48;
        var keys = PrefixHasher.ComputeKeys(L, TenantSalt.None, TestData.Tokens(n, seed: 5));
        var payload = TestData.Payload(1);
        foreach (var k in keys)
        {
            Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(L, k, null, payload));
        }

        // Every primary holds some of them, found by a plain SCAN of the readable prefix.
        await using var plain = await ConnectionMultiplexer.ConnectAsync(string.Join(',', endpoints));
        var primaries = plain.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToArray();
        Assert.Equal(endpoints.Count, primaries.Length);
        int total = 0;
        foreach (var server in primaries)
        {
            int here = 0;
            await foreach (var key in server.KeysAsync(pattern: tier.KeyScheme.Pattern, pageSize: 1000))
            {
                Assert.StartsWith(prefix + ":v1:{", key.ToString(), StringComparison.Ordinal);
                here++;
            }

            Assert.True(here > 0, $"node {server.EndPoint} holds none of the {n} chunks");
            total += here;
        }

        Assert.Equal(n, total);
    }

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task Tenants_never_see_each_others_prefixes(string kind)
    {
        var endpoints = TestClusters.Require(kind);
        await using var tier = await RedisTier.ConnectAsync(TestData.Options(endpoints, TestData.UniquePrefix("tenant")));
        using var store = new TieredStore([tier], ownsTiers: false);
        const int n = 8;
        var tokens = TestData.Tokens(n, seed: 9);
        var a = PrefixHasher.ComputeKeys(L, TenantSalt.FromString("tenant-a"), tokens);
        var b = PrefixHasher.ComputeKeys(L, TenantSalt.FromString("tenant-b"), tokens);
        Assert.Equal(n, await store.StoreAsync(L, a, TestData.Payload(n)));

        Assert.Equal(n * L.TokensPerChunk, await store.LookupAsync(L, a));
        Assert.Equal(0, await store.LookupAsync(L, b));
        Assert.Equal(0, await store.RetrieveAsync(L, b, new byte[n * L.ChunkBytes]));
        Assert.NotEqual(tier.RedisKeyOf(a[0]), tier.RedisKeyOf(b[0]));
    }

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task A_value_damaged_through_a_plain_client_is_a_counted_miss_and_is_deleted(string kind)
    {
        var endpoints = TestClusters.Require(kind);
        await using var tier = await RedisTier.ConnectAsync(TestData.Options(endpoints, TestData.UniquePrefix("damage")));
        using var store = new TieredStore([tier], ownsTiers: false);
        var keys = PrefixHasher.ComputeKeys(L, TenantSalt.None, TestData.Tokens(3, seed: 11));
        Assert.Equal(3, await store.StoreAsync(L, keys, TestData.Payload(3)));

        await using var plain = await ConnectionMultiplexer.ConnectAsync(string.Join(',', endpoints));
        var db = plain.GetDatabase();

        // Payload bytes overwritten in place, and a value cut short.
        await db.StringSetRangeAsync(tier.RedisKeyOf(keys[1]), 64 + 1000, "garbage!"u8.ToArray());
        var original = (byte[])(await db.StringGetAsync(tier.RedisKeyOf(keys[2])))!;
        await db.StringSetAsync(tier.RedisKeyOf(keys[2]), original.AsMemory(0, 100));

        var dest = new byte[L.ChunkBytes];
        Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(L, keys[0], dest));
        Assert.Equal(TierReadStatus.Damaged, await tier.ReadAsync(L, keys[1], dest));
        Assert.Equal(TierReadStatus.Damaged, await tier.ReadAsync(L, keys[2], dest));
        Assert.Equal(2, tier.Counters.Damaged);
        Assert.Equal(2, store.Metrics.Tiers[tier.Name].ChecksumFailures);

        // The bad values are gone, so a writer can store good ones again.
        await WaitUntil(async () => !await db.KeyExistsAsync(tier.RedisKeyOf(keys[1])) && !await db.KeyExistsAsync(tier.RedisKeyOf(keys[2])));
        Assert.Equal(1 * L.TokensPerChunk, await store.LookupAsync(L, keys));
        Assert.Equal(1, await store.RetrieveAsync(L, keys, new byte[3 * L.ChunkBytes]));
    }

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task A_second_process_sharing_only_the_cluster_hits_what_the_first_stored(string kind)
    {
        var endpoints = string.Join(',', TestClusters.Require(kind));
        string prefix = TestData.UniquePrefix("xproc");
        const int n = 8;

        // Two separate processes, each with its own DRAM tier; only the cluster is shared.
        Assert.Equal($"stored {n} {n}", RunPeer("store", endpoints, prefix, "tenant-x", n));
        string expected = TestData.Hash(TestData.Payload(n));
        Assert.Equal($"fetched {n * L.TokensPerChunk} {n} {n} {expected}", RunPeer("fetch", endpoints, prefix, "tenant-x", n));

        // Another tenant in another process gets nothing.
        Assert.StartsWith("fetched 0 0 0 ", RunPeer("fetch", endpoints, prefix, "tenant-y", n), StringComparison.Ordinal);
    }

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task Values_of_the_largest_chunk_size_round_trip_without_delaying_lookups(string kind)
    {
        var endpoints = TestClusters.Require(kind);
        var big = ModelShapes.Get("llama3-8b").Layout;
        Assert.Equal(32 << 20, big.ChunkBytes);
        // Generous timeouts: this test is about connections, not about a loaded machine turning slow answers into misses.
        await using var tier = await RedisTier.ConnectAsync(TestData.Options(endpoints, TestData.UniquePrefix("big")) with
        {
            ValueTimeout = TimeSpan.FromSeconds(20),
            LookupTimeout = TimeSpan.FromSeconds(2),
            LookupBudget = TimeSpan.FromSeconds(5),
        });
        var bigKeys = PrefixHasher.ComputeKeys(big, TenantSalt.None, TestData.Tokens(2 * big.TokensPerChunk / L.TokensPerChunk));
        var payload = GC.AllocateUninitializedArray<byte>(big.ChunkBytes);
        new Random(3).NextBytes(payload);
        var smallKeys = PrefixHasher.ComputeKeys(L, TenantSalt.None, TestData.Tokens(64, seed: 13));
        foreach (var k in smallKeys)
        {
            await tier.WriteAsync(L, k, null, TestData.Payload(1));
        }

        var bigReads = new System.Collections.Concurrent.ConcurrentBag<double>();
        try
        {
            // Lookups run while 32 MiB values travel; they have their own connection, so each still answers in full.
            var bulk = Task.Run(async () =>
            {
                foreach (var k in bigKeys)
                {
                    Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(big, k, null, payload));
                }

                var dest = new byte[big.ChunkBytes];
                for (int r = 0; r < 3; r++)
                {
                    foreach (var k in bigKeys)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(big, k, dest));
                        bigReads.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                        Assert.True(dest.AsSpan().SequenceEqual(payload));
                    }
                }
            });
            var present = new bool[smallKeys.Length];
            var lookupMs = new List<double>();
            while (!bulk.IsCompleted || lookupMs.Count < 5)
            {
                long t0 = Stopwatch.GetTimestamp();
                await tier.ExistsAsync(L, smallKeys, present);
                lookupMs.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                Assert.All(present, Assert.True);
            }

            await bulk;
            Assert.Equal(0, tier.Counters.Failures);

            // Queued behind a 32 MiB value on a shared connection, a lookup would take about as long as the value.
            lookupMs.Sort();
            var reads = bigReads.Order().ToArray();
            Assert.True(lookupMs[lookupMs.Count / 2] < reads[reads.Length / 2], $"median lookup {lookupMs[lookupMs.Count / 2]:0.0} ms vs median 32 MiB read {reads[reads.Length / 2]:0.0} ms");
        }
        finally
        {
            foreach (var k in bigKeys)
            {
                await tier.RemoveAsync(k);
            }
        }
    }

    private static string RunPeer(params object[] args)
    {
        var dll = typeof(PeerProgram).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("peer");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)!);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd().Trim();
        Assert.True(p.WaitForExit(60_000), "peer process did not finish in 60 s");
        Assert.True(p.ExitCode == 0, $"peer exited {p.ExitCode}: {err.Result}");
        return output;
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), "condition not met in 10 s");
            await Task.Delay(10);
        }
    }
}
