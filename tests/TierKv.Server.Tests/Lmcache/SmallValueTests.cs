using System.Buffers.Binary;
using System.Globalization;
using TierKv.Server.Client;

namespace TierKv.Server.Tests.Lmcache;

/// <summary>
/// Small values cost their size (a 4 KiB record in the small-value area, not a chunk slot), and the names and times to
/// live that SCAN and TTL need come back after a warm restart from the SSD tier.
/// </summary>
public sealed class SmallValueTests : IDisposable
{
    private const int Chunk = 2 << 20;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tierkv-lmcache-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static byte[] Metadata() => new byte[28];

    /// <summary>Stores LMCache v1's pairs (kv_bytes then its 28-byte metadata) one after another; returns how many complete pairs remain.</summary>
    private static int StorePairs(Func<string, byte[], bool> set, Func<string[], long> exists, int pairs, byte[] kv)
    {
        for (int i = 0; i < pairs; i++)
        {
            string key = $"vllm@meta-llama/Llama-3.1-8B@1@0@{i:x16}";
            BinaryPrimitives.WriteInt32LittleEndian(kv, i);
            Assert.True(set(key + "kv_bytes", kv));
            Assert.True(set(key + "metadata", Metadata()));
        }

        int complete = 0;
        for (int i = 0; i < pairs; i++)
        {
            string key = $"vllm@meta-llama/Llama-3.1-8B@1@0@{i:x16}";
            complete += exists([key + "kv_bytes", key + "metadata"]) == 2 ? 1 : 0;
        }

        return complete;
    }

    [Fact]
    public async Task The_v1_connectors_pairs_hold_a_chunk_per_chunk_record_in_the_dram_tier()
    {
        // 64 MiB of DRAM: 2 MiB go to the small-value area (512 records of 4 KiB), the rest holds 30 chunk records of
        // 2 MiB + 4 KiB. Before the small-value area each 28-byte metadata value took a chunk record: 15 pairs.
        await using var s = TestServer.Start(new ServerOptions { DramBytes = 64L << 20, SlotBytes = Chunk + 64 });
        using var c = s.Client();
        int complete = StorePairs((k, v) => { c.Set(System.Text.Encoding.UTF8.GetBytes(k), v); return true; }, keys => (long)c.Execute(["EXISTS", .. keys])!, 40, new byte[Chunk]);
        Assert.Equal(30, complete);
        var stats = c.Stats();
        Assert.Equal("30", stats["tier.dram.chunks"]);
        Assert.Equal("40", stats["small_values.chunks"]);
    }

    [SkippableFact]
    public async Task The_v1_connectors_pairs_fit_at_least_as_many_chunks_as_redis_server_in_the_same_memory()
    {
        string? redis = RedisServerProcess.Find();
        Skip.If(redis is null && Environment.GetEnvironmentVariable("CI") is null, "redis-server is not installed (apt-get install redis-server); CI installs it");
        const long memory = 64L << 20;
        await using var s = TestServer.Start(new ServerOptions { DramBytes = memory, SlotBytes = Chunk + 64 });
        using var c = s.Client();
        using var r = await RedisServerProcess.StartAsync(redis!, cluster: false, "--maxmemory", memory.ToString(CultureInfo.InvariantCulture), "--maxmemory-policy", "allkeys-lru");
        using var rc = TierKvClient.Connect("127.0.0.1", r.Port);
        var kv = new byte[Chunk];
        int tier = StorePairs((k, v) => { c.Set(System.Text.Encoding.UTF8.GetBytes(k), v); return true; }, keys => (long)c.Execute(["EXISTS", .. keys])!, 40, kv);
        int reference = StorePairs((k, v) => { rc.Set(System.Text.Encoding.UTF8.GetBytes(k), v); return true; }, keys => (long)rc.Execute(["EXISTS", .. keys])!, 40, kv);
        Assert.True(tier >= reference, $"tierkv kept {tier} complete pairs, redis-server {reference} in {memory >> 20} MiB");
    }

    [Fact]
    public async Task Names_and_times_to_live_survive_a_warm_restart_from_the_ssd_tier()
    {
        var options = new ServerOptions { DataDir = _dir, SsdBytes = 64L << 20, SsdWriteThrough = false, DramBytes = 32L << 20, SlotBytes = 512 << 10 };
        var names = new[] { "lmc@a@1@0@01kv_bytes", "lmc@a@1@0@01metadata", "{lmc@b}:kv_bytes", "{lmc@b}:metadata", "00112233445566778899aabbccddeeff" };
        long expiresAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_600_000;
        await using (var s = TestServer.Start(options))
        {
            using var c = s.Client();
            foreach (var n in names)
            {
                bool big = n.Contains("kv_bytes", StringComparison.Ordinal);
                c.Execute("SET", n, big ? new string('v', 300_000) : "meta", "PXAT", expiresAt.ToString(CultureInfo.InvariantCulture));
            }

            c.Execute("SET", "lmc@no-ttl", "x");
            string past = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1000).ToString(CultureInfo.InvariantCulture);
            c.Execute("SET", "lmc@expired-small", "m", "PXAT", past);
            c.Execute("SET", "lmc@expired-big", new string('e', 300_000), "PXAT", past);
        }

        // Graceful shutdown wrote DRAM down to the SSD; the restarted server reads names and expiries from the records.
        await using var again = TestServer.Start(options);
        using var c2 = again.Client();
        Assert.Equal("0", c2.Stats()["tier.dram.chunks"]);
        var listed = new List<string>();
        string cursor = "0";
        do
        {
            var page = (object?[])c2.Execute("SCAN", cursor, "COUNT", "2")!;
            cursor = (string)page[0]!;
            listed.AddRange(((object?[])page[1]!).Cast<string>());
        }
        while (cursor != "0");

        Assert.Equal(names.Append("lmc@no-ttl").Order(), listed.Order());
        foreach (var n in names)
        {
            Assert.InRange((long)c2.Execute("PTTL", n)!, 3_000_000, 3_600_000);
        }

        Assert.Equal(-1L, c2.Execute("TTL", "lmc@no-ttl"));

        // Values that expired before the restart are gone from the SSD tier's answers too.
        Assert.Null(c2.Execute("GET", "lmc@expired-small"));
        Assert.Null(c2.Execute("GET", "lmc@expired-big"));
        Assert.Equal(0L, c2.Execute("EXISTS", "lmc@expired-small", "lmc@expired-big"));
        Assert.Equal(-2L, c2.Execute("TTL", "lmc@expired-big"));
        Assert.Equal("meta", c2.Execute("GET", "lmc@a@1@0@01metadata"));
    }
}
