using System.Globalization;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

public sealed class SsdTierTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tierkv-server-ssd-" + Guid.NewGuid().ToString("N"));

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

    [Fact]
    public async Task Graceful_shutdown_persists_acknowledged_writes_that_a_restart_serves()
    {
        var options = new ServerOptions { DataDir = _dir, SsdBytes = 32L << 20, SsdWriteThrough = false };
        var values = Values(6, 200_000);
        await using (var s = TestServer.Start(options))
        {
            using var c = s.Client();
            for (int i = 0; i < values.Length; i++)
            {
                c.Set(Name(i), values[i]);
            }
        }

        // DRAM was written back on shutdown; the new server starts with an empty DRAM and serves from the SSD.
        await using var again = TestServer.Start(options);
        using var c2 = again.Client();
        Assert.Equal("0", c2.Stats()["tier.dram.chunks"]);
        var dest = new byte[1 << 20];
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i].Length, c2.Get(Name(i), dest));
            Assert.Equal(values[i], dest[..values[i].Length]);
        }

        // The SSD tier has its own live curve: the six reads it served are its accesses (recovery is not).
        var stats = c2.Stats();
        Assert.Equal("6", stats["tier.ssd.curve_accesses"]);
        Assert.Equal("1", stats["tier.ssd.curve_background"]);
        Assert.Equal("0", stats["tier.ssd.curve_inline_drains"]);
        Assert.NotNull(TierCurve.From(new StatsSample(stats, 0), "ssd"));
    }

    [SkippableFact]
    public async Task Kill_9_and_restart_serves_the_ssd_tiers_data_again()
    {
        string? cli = CliProcess.Find();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);
        int port = ServeProcess.FreePort();
        var values = Values(5, 300_000);
        using (var server = await ServeProcess.StartAsync(cli!, port, "--data", _dir, "--ssd", "32m"))
        {
            using var c = TierKvClient.Connect("127.0.0.1", port);
            for (int i = 0; i < values.Length; i++)
            {
                c.Set(Name(i), values[i]);
            }

            // Write-through reaches the SSD in the background (visible at once, on disk a moment later): wait until all
            // five are there and no write is in flight, then kill -9.
            Assert.True(SpinWait.SpinUntil(() => c.Stats() is var st && st["tier.ssd.chunks"] == "5" && st["tier.ssd.writes_in_flight"] == "0", TimeSpan.FromSeconds(30)), "values did not reach the SSD tier");
            server.Kill();
        }

        using (var server = await ServeProcess.StartAsync(cli!, port, "--data", _dir, "--ssd", "32m"))
        {
            using var c = TierKvClient.Connect("127.0.0.1", port);
            var dest = new byte[1 << 20];
            for (int i = 0; i < values.Length; i++)
            {
                Assert.Equal(values[i].Length, c.Get(Name(i), dest));
                Assert.Equal(values[i], dest[..values[i].Length]);
            }

            var stats = c.Stats();
            Assert.Equal("0", stats["tier.dram.chunks"]);
            Assert.Equal("5", stats["tier.ssd.chunks"]);
        }
    }

    private static byte[] Name(int i) => System.Text.Encoding.ASCII.GetBytes("ssd-value-" + i.ToString(CultureInfo.InvariantCulture));

    private static byte[][] Values(int n, int size)
    {
        var rng = new Random(11);
        var v = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            v[i] = new byte[size + i];
            rng.NextBytes(v[i]);
        }

        return v;
    }
}
