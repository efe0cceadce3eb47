using System.Globalization;
using System.Net.Sockets;
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
    public sealed class Settings : JsonSettings
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

        [CommandOption("--once")]
        [Description("Take one sample (two readings --interval apart), print it and exit (same as --frames 1, without the live view). With --json: one JSON object; without --once, --json prints one compact object per line per refresh.")]
        public bool Once { get; init; }

        public override ValidationResult Validate() => SettingsRules.Check(
            (Port is < 1 or > 65535, $"--port must be a TCP port in [1, 65535]; got {Port}."),
            (Interval is < 0.1 or > 3600, "--interval must be in [0.1, 3600] seconds."),
            (Frames < 0, "--frames must be 0 (until Ctrl+C) or more."));
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var client = Connect(settings);
        if (settings.Token is not null)
        {
            client.Auth(settings.Token, settings.User);
        }

        int frames = settings.Once ? 1 : settings.Frames;
        var prev = StatsSample.Take(client);
        if (settings.Json || settings.Once)
        {
            // Plain output, one sample per refresh: for scripts, tests and terminals without a live view.
            for (int i = 0; !cancellationToken.IsCancellationRequested && (frames == 0 || i < frames); i++)
            {
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(settings.Interval));
                var now = StatsSample.Take(client);
                var interval = new StatsInterval(prev, now);
                if (!settings.Json)
                {
                    AnsiConsole.Write(Render(interval, settings));
                }
                else if (settings.Once)
                {
                    JsonOutput.Write(interval.ToJson());
                }
                else
                {
                    Console.Out.WriteLine(interval.ToJson().ToJsonString());
                    Console.Out.Flush();
                }

                prev = now;
            }

            return 0;
        }

        int shown = 0;
        AnsiConsole.Live(Render(new StatsInterval(prev, prev), settings)).AutoClear(false).Start(ctx =>
        {
            while (!cancellationToken.IsCancellationRequested && (frames == 0 || shown < frames))
            {
                cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(settings.Interval));
                var now = StatsSample.Take(client);
                ctx.UpdateTarget(Render(new StatsInterval(prev, now), settings));
                ctx.Refresh();
                prev = now;
                shown++;
            }
        });
        return 0;
    }

    private static TierKvClient Connect(Settings settings)
    {
        try
        {
            return TierKvClient.Connect(settings.Host, settings.Port);
        }
        catch (SocketException ex)
        {
            throw new IOException($"Cannot reach tierkv serve at {settings.Host}:{settings.Port} (--host, --port): {ex.Message}.", ex);
        }
    }

    private static IRenderable Render(StatsInterval interval, Settings settings)
    {
        var now = interval.After;
        var tiers = new Table().Border(TableBorder.Rounded).Title($"tierkv top — {settings.Host}:{settings.Port} tenant {now.Text("tenant")}, {now.Text("connected_clients")} clients, up {now.Text("uptime_s")} s");
        tiers.AddColumns("tier", "hit ratio", "read GB/s", "write GB/s", "read p50/p99 us", "used / capacity", "chunks", "evictions/s", "evictions");
        foreach (var name in now.Tiers)
        {
            string p = "tier." + name + ".";
            tiers.AddRow(
                name,
                Percent(interval.TierHitRatio(name)),
                (interval.PerSecond(p + "read_bytes") / 1e9).ToString("0.00", CultureInfo.InvariantCulture),
                (interval.PerSecond(p + "write_bytes") / 1e9).ToString("0.00", CultureInfo.InvariantCulture),
                $"{now.Text(p + "read_p50_us")} / {now.Text(p + "read_p99_us")}",
                $"{now.Number(p + "used_bytes") / (1 << 20):0} / {now.Number(p + "capacity_bytes") / (1 << 20):0} MiB",
                now.Text(p + "chunks"),
                interval.PerSecond(p + "evictions").ToString("0.#", CultureInfo.InvariantCulture),
                now.Text(p + "evictions"));
        }

        var curves = CurveTable(now);
        var ops = new Table().Border(TableBorder.Rounded).AddColumns("traffic", "per second", "p50 us", "p99 us");
        ops.AddRow("lookups", interval.PerSecond("lookups").ToString("0.#", CultureInfo.InvariantCulture), now.Text("lookup_p50_us"), now.Text("lookup_p99_us"));
        ops.AddRow("gets (hits / misses)", $"{interval.PerSecond("get_hits"):0.#} / {interval.PerSecond("get_misses"):0.#}", now.Text("get_p50_us"), now.Text("get_p99_us"));
        ops.AddRow("puts", interval.PerSecond("puts").ToString("0.#", CultureInfo.InvariantCulture), now.Text("put_p50_us"), now.Text("put_p99_us"));
        ops.AddRow("bytes in / out", $"{interval.PerSecond("bytes_in") / 1e9:0.00} / {interval.PerSecond("bytes_out") / 1e9:0.00} GB/s", "", "");
        ops.AddRow("lookup hit ratio (all tiers)", Percent(interval.HitRatio()), "", "");
        ops.AddRow("pinned (KV.PIN)", $"{now.Text("pinned_chunks")} chunks, {now.Number("pinned_bytes") / (1 << 20):0.#} of {now.Number("max_pinned_bytes") / (1 << 20):0.#} MiB", "", "");
        string note = settings.Once
            ? $"[grey]latencies are server-side percentiles since start; rates over {interval.Seconds.ToString("0.##", CultureInfo.InvariantCulture)} s.[/]"
            : "[grey]latencies are server-side percentiles since start; rates over the last refresh. Ctrl+C to quit.[/]";
        return curves is null ? new Rows(tiers, ops, new Markup(note)) : new Rows(tiers, curves, ops, new Markup(note));
    }

    /// <summary>
    /// Each tier's live curve as a small bar chart per policy: one bar per size, its height the estimated hit ratio,
    /// the tier's size now in brackets. Null when no tier reports a curve.
    /// </summary>
    private static Table? CurveTable(StatsSample now)
    {
        Table? table = null;
        foreach (var name in now.Tiers)
        {
            if (TierCurve.From(now, name) is not { } curve)
            {
                continue;
            }

            if (table is null)
            {
                table = new Table().Border(TableBorder.Rounded).Title("estimated hit ratio at other sizes (live curve; [[1x]] = now)").AddColumns("tier", "policy", "curve");
            }

            double top = 0;
            foreach (var ratios in curve.HitRatios.Values)
            {
                foreach (double r in ratios)
                {
                    top = Math.Max(top, r);
                }
            }

            foreach (var (policy, ratios) in curve.HitRatios)
            {
                var cells = new List<string>();
                for (int i = 0; i < ratios.Length && i < curve.Multiples.Count; i++)
                {
                    string bar = Bars[top <= 0 ? 0 : (int)Math.Round(ratios[i] / top * (Bars.Length - 1))].ToString();
                    string size = curve.Multiples[i].ToString("0.##", CultureInfo.InvariantCulture) + "x";
                    string cell = $"{size} {bar} {ratios[i].ToString("P1", CultureInfo.InvariantCulture)}";
                    cells.Add(curve.Multiples[i] == 1 ? $"[bold][[{Markup.Escape(cell)}]][/]" : Markup.Escape(cell));
                }

                table.AddRow(Markup.Escape(name), Markup.Escape(policy), string.Join("  ", cells));
            }
        }

        return table;
    }

    private const string Bars = " ▁▂▃▄▅▆▇█";

    private static string Percent(double? ratio) => ratio is { } r ? r.ToString("P1", CultureInfo.InvariantCulture) : "-";
}
