using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Rendering;
using TierKv.Server.Client;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv top</c>: a live terminal view of a running <c>tierkv serve</c>, refreshed every second from
/// <c>KV.STATS</c>: hit ratio per tier, read/write bandwidth, latency percentiles, usage and evictions. A tenant sees
/// its own figures (authenticate with <c>--token</c>).
/// </summary>
internal sealed class TopCommand : Command<TopCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--host")]
        [Description("Server address.")]
        [DefaultValue("127.0.0.1")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--port")]
        [Description("Server RESP port.")]
        [DefaultValue(6380)]
        public int Port { get; init; } = 6380;

        [CommandOption("--token")]
        [Description("Tenant token (when the server requires AUTH).")]
        public string? Token { get; init; }

        [CommandOption("--user")]
        [Description("Tenant name for AUTH.")]
        public string? User { get; init; }

        [CommandOption("--interval")]
        [Description("Seconds between refreshes.")]
        [DefaultValue(1.0)]
        public double Interval { get; init; } = 1.0;

        [CommandOption("--frames")]
        [Description("Stop after this many refreshes (0: until Ctrl+C).")]
        [DefaultValue(0)]
        public int Frames { get; init; }

        public override ValidationResult Validate() => Interval is < 0.1 or > 3600 ? ValidationResult.Error("--interval must be in [0.1, 3600] seconds.") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var client = TierKvClient.Connect(settings.Host, settings.Port);
        if (settings.Token is not null)
        {
            client.Auth(settings.Token, settings.User);
        }

        var prev = client.Stats();
        var prevTime = DateTime.UtcNow;
        int frames = 0;
        AnsiConsole.Live(Render(prev, prev, 1, settings)).AutoClear(false).Start(ctx =>
        {
            while (!cancellationToken.IsCancellationRequested && (settings.Frames == 0 || frames < settings.Frames))
            {
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(settings.Interval));
                var now = client.Stats();
                var t = DateTime.UtcNow;
                ctx.UpdateTarget(Render(prev, now, Math.Max((t - prevTime).TotalSeconds, 1e-3), settings));
                ctx.Refresh();
                prev = now;
                prevTime = t;
                frames++;
            }
        });
        return 0;
    }

    private static IRenderable Render(IReadOnlyDictionary<string, string> prev, IReadOnlyDictionary<string, string> now, double seconds, Settings settings)
    {
        double D(string key) => Num(now, key) - Num(prev, key);
        double requested = D("lookup_requested_tokens");
        var tiers = new Table().Border(TableBorder.Rounded).Title($"tierkv top — {settings.Host}:{settings.Port} tenant {Get(now, "tenant")}, {Get(now, "connected_clients")} clients, up {Get(now, "uptime_s")} s");
        tiers.AddColumns("tier", "hit ratio", "read GB/s", "write GB/s", "read p50/p99 us", "used / capacity", "chunks", "evictions/s", "evictions");
        double hitAll = 0;
        foreach (var name in Get(now, "tiers").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string p = "tier." + name + ".";
            double hits = D(p + "hit_tokens");
            hitAll += hits;
            tiers.AddRow(
                name,
                requested > 0 ? (hits / requested).ToString("P1", CultureInfo.InvariantCulture) : "-",
                (D(p + "read_bytes") / seconds / 1e9).ToString("0.00", CultureInfo.InvariantCulture),
                (D(p + "write_bytes") / seconds / 1e9).ToString("0.00", CultureInfo.InvariantCulture),
                $"{Get(now, p + "read_p50_us")} / {Get(now, p + "read_p99_us")}",
                $"{Num(now, p + "used_bytes") / (1 << 20):0} / {Num(now, p + "capacity_bytes") / (1 << 20):0} MiB",
                Get(now, p + "chunks"),
                (D(p + "evictions") / seconds).ToString("0.#", CultureInfo.InvariantCulture),
                Get(now, p + "evictions"));
        }

        var ops = new Table().Border(TableBorder.Rounded).AddColumns("traffic", "per second", "p50 us", "p99 us");
        ops.AddRow("lookups", (D("lookups") / seconds).ToString("0.#", CultureInfo.InvariantCulture), Get(now, "lookup_p50_us"), Get(now, "lookup_p99_us"));
        ops.AddRow("gets (hits / misses)", $"{D("get_hits") / seconds:0.#} / {D("get_misses") / seconds:0.#}", Get(now, "get_p50_us"), Get(now, "get_p99_us"));
        ops.AddRow("puts", (D("puts") / seconds).ToString("0.#", CultureInfo.InvariantCulture), Get(now, "put_p50_us"), Get(now, "put_p99_us"));
        ops.AddRow("bytes in / out", $"{D("bytes_in") / seconds / 1e9:0.00} / {D("bytes_out") / seconds / 1e9:0.00} GB/s", "", "");
        ops.AddRow("lookup hit ratio (all tiers)", requested > 0 ? (hitAll / requested).ToString("P1", CultureInfo.InvariantCulture) : "-", "", "");
        return new Rows(tiers, ops, new Markup("[grey]latencies are server-side percentiles since start; rates over the last refresh. Ctrl+C to quit.[/]"));
    }

    private static string Get(IReadOnlyDictionary<string, string> d, string key) => d.TryGetValue(key, out var v) ? v : "-";

    private static double Num(IReadOnlyDictionary<string, string> d, string key) =>
        d.TryGetValue(key, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x : 0;
}
