using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using TierKv.Keys;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

/// <summary><c>tierkv top</c>'s figures: the interval arithmetic in process, and the CLI's <c>--once --json</c> against a live server.</summary>
public class TopTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task An_interval_reports_exactly_the_traffic_between_its_samples()
    {
        await using var s = TestServer.Start(new ServerOptions { SmallValueBytes = 0 }); // every value in the dram tier counted here
        await using var c = await TierKvAsyncClient.ConnectAsync("127.0.0.1", s.Port).WaitAsync(Limit);
        await c.SetAsync(Encoding.ASCII.GetBytes("before"), new byte[100]).AsTask().WaitAsync(Limit);
        var before = await StatsSample.TakeAsync(c).AsTask().WaitAsync(Limit);

        var layout = ModelShapes.Llama3_8B.Layout;
        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, Enumerable.Range(0, 4 * layout.TokensPerChunk).ToArray());
        const int sets = 20;
        for (int i = 0; i < sets; i++)
        {
            await c.SetAsync(Encoding.ASCII.GetBytes("v" + i.ToString(CultureInfo.InvariantCulture)), new byte[5000]).AsTask().WaitAsync(Limit);
        }

        await c.PutAsync(keys[0], new byte[5000]).AsTask().WaitAsync(Limit);
        await c.PutAsync(keys[1], new byte[5000], keys[0]).AsTask().WaitAsync(Limit);
        var dest = new byte[8192];
        for (int i = 0; i < 5; i++)
        {
            await c.GetAsync(Encoding.ASCII.GetBytes("v" + i.ToString(CultureInfo.InvariantCulture)), dest).AsTask().WaitAsync(Limit);
        }

        for (int i = 0; i < 3; i++)
        {
            await c.GetAsync(Encoding.ASCII.GetBytes("absent"), dest).AsTask().WaitAsync(Limit);
        }

        Assert.Equal(2, await c.LookupAsync(keys).AsTask().WaitAsync(Limit));
        var after = await StatsSample.TakeAsync(c).AsTask().WaitAsync(Limit);

        var interval = new StatsInterval(before, after);
        Assert.Equal(sets + 2, interval.Delta("puts"));
        Assert.Equal(5, interval.Delta("get_hits"));
        Assert.Equal(3, interval.Delta("get_misses"));
        Assert.Equal(1, interval.Delta("lookups"));
        Assert.Equal((sets + 2) * 5000, interval.Delta("bytes_in"));
        Assert.Equal(5 * 5000, interval.Delta("bytes_out"));

        // Every command sent in between, and the STATS that took the second sample.
        Assert.Equal(sets + 2 + 8 + 1 + 1, interval.Delta("commands"));

        var json = interval.ToJson();
        var live = await c.StatsAsync().AsTask().WaitAsync(Limit);
        Assert.Equal(long.Parse(live["puts"], CultureInfo.InvariantCulture), (long)json["puts"]!);
        // interval_s is rounded to 4 decimals: within half a unit of the 4th, not "equal at 3 decimals" (0.05147 and 0.0515 differ there).
        Assert.InRange(Math.Abs(interval.Seconds - (double)json["interval_s"]!), 0, 0.00005 + 1e-12);
        Assert.InRange(Math.Abs((sets + 2) / interval.Seconds - (double)json["puts_per_s"]!), 0, 0.005 + 1e-9);
        Assert.Equal(0.5, (double)json["lookup_hit_ratio"]!);
        Assert.Equal("default", (string)json["tenant"]!);
        Assert.True((double)json["put_p50_us"]! > 0, "put latency missing");
        Assert.Equal(double.Parse(live["put_p99_us"], CultureInfo.InvariantCulture), (double)json["put_p99_us"]!, 2);
        Assert.Equal(double.Parse(live["get_p50_us"], CultureInfo.InvariantCulture), (double)json["get_p50_us"]!, 2);
        Assert.Equal(double.Parse(live["tier.dram.read_p99_us"], CultureInfo.InvariantCulture), (double)json["tiers"]![0]!["read_p99_us"]!, 2);
        var dram = Assert.IsType<JsonObject>(json["tiers"]![0]);
        Assert.Equal("dram", (string)dram["name"]!);
        Assert.Equal(0.5, (double)dram["hit_ratio"]!);
        Assert.Equal(sets + 3, (long)dram["chunks"]!);
        Assert.Equal(long.Parse(live["tier.dram.used_bytes"], CultureInfo.InvariantCulture), (long)dram["used_bytes"]!);
        Assert.Equal(long.Parse(live["tier.dram.capacity_bytes"], CultureInfo.InvariantCulture), (long)dram["capacity_bytes"]!);
    }

    [Fact]
    public async Task An_interval_reports_the_tenants_pins_and_their_limit()
    {
        await using var s = TestServer.Start(new ServerOptions { SmallValueBytes = 0 });
        await using var c = await TierKvAsyncClient.ConnectAsync("127.0.0.1", s.Port).WaitAsync(Limit);
        var layout = ModelShapes.Llama3_8B.Layout;
        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, Enumerable.Range(0, 3 * layout.TokensPerChunk).ToArray());
        foreach (var key in keys)
        {
            await c.PutAsync(key, new byte[5000]).AsTask().WaitAsync(Limit);
        }

        Assert.Equal(2, await c.PinAsync(keys.AsMemory(0, 2)).AsTask().WaitAsync(Limit));
        var sample = await StatsSample.TakeAsync(c).AsTask().WaitAsync(Limit);
        var json = new StatsInterval(sample, sample).ToJson();
        var live = await c.StatsAsync().AsTask().WaitAsync(Limit);
        Assert.Equal(2, (long)json["pinned_chunks"]!);
        Assert.True((long)json["pinned_bytes"]! >= 2 * 5000, "pinned bytes below the pinned values' payloads");
        Assert.Equal(long.Parse(live["pinned_bytes"], CultureInfo.InvariantCulture), (long)json["pinned_bytes"]!);
        Assert.Equal(long.Parse(live["max_pinned_bytes"], CultureInfo.InvariantCulture), (long)json["max_pinned_bytes"]!);
    }

    [Fact]
    public async Task An_interval_without_lookups_has_no_hit_ratio()
    {
        await using var s = TestServer.Start(new ServerOptions { SmallValueBytes = 0 }); // every value in the dram tier counted here
        using var c = s.Client();
        var a = StatsSample.Take(c);
        var json = new StatsInterval(a, a).ToJson();
        Assert.Null(json["lookup_hit_ratio"]);
        Assert.Null(json["tiers"]![0]!["hit_ratio"]);
        Assert.Equal(0.001, (double)json["interval_s"]!);
    }

    [SkippableFact]
    public async Task Top_once_json_reports_the_servers_real_counters_after_traffic()
    {
        string? cli = CliProcess.Find();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);
        await using var s = TestServer.Start(new ServerOptions { SmallValueBytes = 0 }); // every value in the dram tier counted here
        string[] top = ["top", "--port", s.Port.ToString(CultureInfo.InvariantCulture), "--once", "--json", "--interval", "0.2"];

        var first = await RunTopAsync(cli, top);
        using var c = s.Client();
        const int sets = 25;
        for (int i = 0; i < sets; i++)
        {
            c.Set(Encoding.ASCII.GetBytes("top-" + i.ToString(CultureInfo.InvariantCulture)), new byte[3000]);
        }

        var second = await RunTopAsync(cli, top);
        var live = c.Stats();

        Assert.Equal(sets, (long)second["puts"]! - (long)first["puts"]!);
        Assert.True((long)second["commands"]! - (long)first["commands"]! >= sets, "the commands counter moved by less than the SETs sent");
        Assert.Equal(long.Parse(live["puts"], CultureInfo.InvariantCulture), (long)second["puts"]!);
        Assert.Equal(long.Parse(live["bytes_in"], CultureInfo.InvariantCulture), (long)second["bytes_in"]!);
        Assert.Equal(double.Parse(live["put_p99_us"], CultureInfo.InvariantCulture), (double)second["put_p99_us"]!, 2);
        Assert.True((long)second["connected_clients"]! >= 2, "top's own connection and the test's");
        Assert.InRange((double)second["interval_s"]!, 0.2, 10);
        var dram = Assert.IsType<JsonObject>(second["tiers"]![0]);
        Assert.Equal("dram", (string)dram["name"]!);
        Assert.Equal(sets, (long)dram["chunks"]!);
        Assert.Equal(long.Parse(live["tier.dram.used_bytes"], CultureInfo.InvariantCulture), (long)dram["used_bytes"]!);

        // The human view of one sample, without a live terminal.
        var (code, stdout, stderr) = await CliProcess.RunAsync(cli, ["top", "--port", s.Port.ToString(CultureInfo.InvariantCulture), "--once", "--interval", "0.1"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("dram", stdout, StringComparison.Ordinal);
        Assert.Contains("lookups", stdout, StringComparison.Ordinal);

        // Without --once, --json prints one compact object per line per refresh.
        (code, stdout, stderr) = await CliProcess.RunAsync(cli, ["top", "--port", s.Port.ToString(CultureInfo.InvariantCulture), "--json", "--frames", "2", "--interval", "0.1"]);
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal(sets, (long)JsonNode.Parse(l)!["puts"]! - (long)first["puts"]!));
    }

    private static async Task<JsonObject> RunTopAsync(string cli, string[] args)
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(cli, args);
        Assert.True(code == 0, $"tierkv top exited with {code}: {stderr}");
        return Assert.IsType<JsonObject>(JsonNode.Parse(stdout));
    }
}
