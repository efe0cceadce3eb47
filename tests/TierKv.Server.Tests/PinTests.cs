using System.Globalization;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

/// <summary>KV.PIN, KV.UNPIN and KV.PUT's PRIORITY through the daemon (docs/protocol.md, "Pins and priorities").</summary>
public sealed class PinTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tierkv-server-pins-" + Guid.NewGuid().ToString("N"));

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

    private static string Value(int i) => new((char)('a' + (i % 26)), 100_000 + i);

    [Fact]
    public async Task Pin_answers_how_many_held_keys_it_pinned_and_unpin_how_many_were_pinned()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        c.Execute("SET", "system-prompt", Value(1));
        c.Execute("SET", "tools", Value(2));
        Assert.Equal(2L, c.Execute("KV.PIN", "system-prompt", "tools", "missing"));
        Assert.Equal(1L, c.Execute("KV.PIN", "tools", "TTL", "60"));
        var stats = c.Stats();
        Assert.Equal("2", stats["pinned_chunks"]);
        Assert.True(long.Parse(stats["pinned_bytes"], CultureInfo.InvariantCulture) > 200_000);
        Assert.Equal((64L << 20) / 2, long.Parse(stats["max_pinned_bytes"], CultureInfo.InvariantCulture));
        Assert.Equal(1L, c.Execute("KV.UNPIN", "tools", "missing"));
        Assert.Equal(0L, c.Execute("KV.UNPIN", "tools"));
        Assert.Equal("1", c.Stats()["pinned_chunks"]);

        // A pin belongs to the key: an overwrite keeps it, a delete ends it (a new value under the name is not pinned).
        c.Execute("SET", "system-prompt", Value(3));
        Assert.Equal("1", c.Stats()["pinned_chunks"]);
        Assert.Equal(1L, c.Execute("DEL", "system-prompt"));
        c.Execute("SET", "system-prompt", Value(4));
        Assert.Equal("0", c.Stats()["pinned_chunks"]);
        Assert.Equal(0L, c.Execute("KV.UNPIN", "system-prompt"));
    }

    [Fact]
    public async Task Both_clients_pin_and_unpin_chunk_keys()
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var held = new Keys.ChunkKey(new UInt128(1, 2));
        var missing = new Keys.ChunkKey(new UInt128(3, 4));
        Assert.True(c.Put(held, new byte[1000]));
        Assert.Equal(1, c.Pin([held, missing], TimeSpan.FromMinutes(1)));
        await using var a = await TierKvAsyncClient.ConnectAsync("127.0.0.1", s.Port);
        Assert.Equal(1, await a.PinAsync(new[] { held }));
        Assert.Equal(1, await a.UnpinAsync(new[] { held, missing }));
        Assert.Equal(0, c.Unpin([held]));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("soon")]
    public async Task A_pin_ttl_must_be_a_positive_number_of_seconds(string ttl)
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        c.Execute("SET", "k", "v");
        var ex = Assert.Throws<TierKvServerException>(() => c.Execute("KV.PIN", "k", "TTL", ttl));
        Assert.Contains("positive number of seconds", ex.Message);
    }

    [Fact]
    public async Task A_pin_beyond_the_tenants_limit_fails_naming_the_limit_and_the_bytes()
    {
        await using var s = TestServer.Start(new ServerOptions { MaxPinnedBytes = 1_500_000 });
        using var c = s.Client();
        c.Execute("SET", "a", Value(1));
        c.Execute("SET", "b", Value(2));
        Assert.Equal(1L, c.Execute("KV.PIN", "a"));
        var ex = Assert.Throws<TierKvServerException>(() => c.Execute("KV.PIN", "b"));
        Assert.StartsWith("PINLIMIT", ex.Message);
        Assert.Contains("limit of 1500000 bytes", ex.Message); // a value pins its whole record (1 MiB here)
        Assert.Equal("1", c.Stats()["pinned_chunks"]);
    }

    [Fact]
    public async Task Pinned_and_high_priority_values_survive_a_scan_of_many_times_dram()
    {
        // 16 MiB of DRAM in 1 MiB records: about fifteen values fit; two hundred pass through.
        await using var s = TestServer.Start(new ServerOptions { DramBytes = 16L << 20 });
        using var c = s.Client();
        c.Execute("SET", "pinned", Value(1));
        Assert.Equal(1L, c.Execute("KV.PIN", "pinned"));
        Assert.Equal(1L, c.Execute("KV.PUT", "prompt", "PRIORITY", "200", Value(2)));
        Assert.Equal(1L, c.Execute("KV.PUT", "prompt-2", "PARENT", "prompt", "PRIORITY", "200", Value(3)));
        for (int i = 0; i < 200; i++)
        {
            c.Execute("SET", "scan-" + i.ToString(CultureInfo.InvariantCulture), Value(i));
        }

        Assert.Equal(Value(1), c.Execute("GET", "pinned") as string);
        Assert.Equal(Value(2), c.Execute("KV.GET", "prompt") as string);
        Assert.Equal(Value(3), c.Execute("KV.GET", "prompt-2") as string);
        Assert.True(long.Parse(c.Stats()["tier.dram.evictions"], CultureInfo.InvariantCulture) >= 180, "the scan went through DRAM");
    }

    [Theory]
    [InlineData("PRIORITY", "256")]
    [InlineData("PRIORITY", "high")]
    [InlineData("PARENT", "")]
    public async Task Kv_put_rejects_bad_options(string option, string value)
    {
        await using var s = TestServer.Start();
        using var c = s.Client();
        var ex = Assert.Throws<TierKvServerException>(() => c.Execute("KV.PUT", "k", option, value, "v"));
        Assert.Contains("KV.PUT key [PARENT parent] [PRIORITY 0-255] value", ex.Message);
    }

    [Fact]
    public async Task A_restarted_daemon_keeps_the_pins_recorded_on_its_ssd_tier()
    {
        var options = new ServerOptions { DataDir = _dir, SsdBytes = 32L << 20 };
        await using (var s = TestServer.Start(options))
        {
            using var c = s.Client();
            for (int i = 0; i < 4; i++)
            {
                c.Execute("SET", "v" + i.ToString(CultureInfo.InvariantCulture), Value(i));
            }

            Assert.Equal(3L, c.Execute("KV.PIN", "v0", "v1", "v2"));
            Assert.Equal(1L, c.Execute("KV.UNPIN", "v2"));
        }

        await using (var again = TestServer.Start(options))
        {
            using var c = again.Client();
            var stats = c.Stats();
            Assert.Equal("0", stats["tier.dram.chunks"]);
            Assert.Equal("2", stats["pinned_chunks"]);
            Assert.Equal(2L, c.Execute("KV.UNPIN", "v0", "v1", "v2", "v3"));
        }
    }
}
