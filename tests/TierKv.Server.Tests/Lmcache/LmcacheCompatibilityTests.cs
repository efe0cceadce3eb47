using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace TierKv.Server.Tests.Lmcache;

/// <summary>
/// The compatibility suite of issue 19: <c>lmcache_compat.py</c> replays each LMCache RESP connector's command sequence
/// (same key strings, 2 MiB and 32 MiB chunks, the same pipelining) through redis-py against the server and against
/// <c>redis-server</c> in the same run, and requires the same replies. Skipped only where redis-server or python3 with
/// redis-py is missing outside CI (<c>scripts/ci/install.sh</c> installs both).
/// </summary>
public sealed class LmcacheCompatibilityTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Every_LMCache_connector_sequence_gets_the_same_replies_as_from_redis_server()
    {
        string? redis = RedisServerProcess.Find();
        string? python = redis is null ? null : RedisServerProcess.FindPythonWithRedis();
        bool ci = Environment.GetEnvironmentVariable("CI") is not null;
        Skip.If((redis is null || python is null) && !ci, "redis-server or python3 with redis-py is not installed (apt-get install redis-server python3-redis); CI installs them");
        Assert.NotNull(redis);
        Assert.NotNull(python);

        // Chunk-sized slots of Llama-3-8B (256 tokens: 32 MiB), as `tierkv serve` defaults to.
        await using var tier = TestServer.Start(new ServerOptions { DramBytes = 640L << 20, SlotBytes = (32 << 20) + 64 });
        using var standalone = await RedisServerProcess.StartAsync(redis!);
        using var cluster = await RedisServerProcess.StartAsync(redis!, cluster: true);
        string script = Path.Combine(AppContext.BaseDirectory, "Lmcache", "lmcache_compat.py");
        var psi = new ProcessStartInfo(python!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "--tierkv", Port(tier.Port), "--redis", Port(standalone.Port), "--redis-cluster", Port(cluster.Port), "--chunk-bytes", Port(2 << 20), "--big-chunk-bytes", Port(32 << 20) })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(240_000), "the compatibility suite did not finish within 4 minutes");
        string text = await stdout + await stderr;
        output.WriteLine(text);
        Assert.True(p.ExitCode == 0, text);
        Assert.Contains("8 of 8 scenarios gave the same replies", text, StringComparison.Ordinal);
    }

    private static string Port(int n) => n.ToString(CultureInfo.InvariantCulture);
}
