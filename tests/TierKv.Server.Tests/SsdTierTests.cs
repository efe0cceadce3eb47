using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
    }

    [SkippableFact]
    public void Kill_9_and_restart_serves_the_ssd_tiers_data_again()
    {
        string? cli = FindCli();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);
        int port = FreePort();
        var values = Values(5, 300_000);
        using (var server = StartServe(cli, port))
        {
            using var c = Connect(port, server);
            for (int i = 0; i < values.Length; i++)
            {
                c.Set(Name(i), values[i]);
            }

            // Write-through reaches the SSD in the background: wait until all five are there, then kill -9.
            Assert.True(SpinWait.SpinUntil(() => c.Stats()["tier.ssd.chunks"] == "5", TimeSpan.FromSeconds(30)), "values did not reach the SSD tier");
            server.Kill();
            Assert.True(server.WaitForExit(10000));
        }

        using (var server = StartServe(cli, port))
        {
            try
            {
                using var c = Connect(port, server);
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
            finally
            {
                server.Kill();
                server.WaitForExit(10000);
            }
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

    private Process StartServe(string cli, int port)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { cli, "serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--metrics-port", "-1", "--dram", "64m", "--slot-bytes", "1m", "--data", _dir, "--ssd", "32m" })
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static TierKvClient Connect(int port, Process server)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(server.HasExited, $"tierkv serve exited with code {(server.HasExited ? server.ExitCode : 0)}");
            try
            {
                var c = TierKvClient.Connect("127.0.0.1", port);
                c.Ping();
                return c;
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                Assert.True(deadline.Elapsed.TotalSeconds < 60, "tierkv serve did not answer within 60 s");
                Thread.Sleep(50);
            }
        }
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>The built CLI next to this checkout (same configuration as the tests), or null.</summary>
    private static string? FindCli()
    {
        string config = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "src", "TierKv.Cli", "bin", config, "net10.0", "tierkv.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
