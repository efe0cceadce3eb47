using System.Globalization;
using TierKv.Analysis;
using TierKv.Analysis.Report;
using TierKv.Analysis.Simulation;
using TierKv.Eviction;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv analyze TRACE</c>: request and volume statistics, reuse, hit-ratio curves of the policies over capacities
/// (in blocks), Belady's MIN as the bound, and a DRAM/SSD sizing recommendation for a model shape.
/// </summary>
internal sealed class AnalyzeCommand : Command<AnalyzeCommand.Settings>
{
    public sealed class Settings : TraceSettings
    {
        [CommandOption("--capacities")]
        [Description("Cache capacities in blocks, comma-separated.")]
        [DefaultValue("1000,2000,5859,10000,20000,50000,100000,200000")]
        public string Capacities { get; init; } = "1000,2000,5859,10000,20000,50000,100000,200000";

        [CommandOption("--policies")]
        [Description("Policies, comma-separated: lru, s3fifo, arc, alfu, leader, lc, hedge, any of them with -prefix, belady, infinite. The default policy is always added.")]
        [DefaultValue("lru,s3fifo,arc,lru-prefix,alfu,lc,leader,hedge,belady")]
        public string Policies { get; init; } = "lru,s3fifo,arc,lru-prefix,alfu,lc,leader,hedge,belady";

        [CommandOption("--sweep")]
        [Description("Also simulate every policy at 20 capacities spaced evenly in log scale from 500 blocks to the trace's distinct blocks, and report each policy's worst hit ratio against the better of lru and lru-prefix (JSON: sweep, worst_vs_best_simple).")]
        public bool Sweep { get; init; }

        [CommandOption("--report")]
        [Description("Directory to write a self-contained HTML report (index.html) into.")]
        public string? Report { get; init; }

        public override ValidationResult Validate() => SettingsRules.Check((string.IsNullOrWhiteSpace(Trace), "A trace file is required."));
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var capacities = ParseCapacities(settings.Capacities);
        var policies = ParsePolicies(settings.Policies);
        var shape = settings.Shape();
        var log = settings.ProgressConsole();
        var sw = Stopwatch.StartNew();
        var trace = settings.ReadTrace();
        log?.MarkupLine($"[grey]analyze {Markup.Escape(trace.Name)}: {trace.RequestCount:N0} requests, {trace.BlockAccesses:N0} block accesses, read in {sw.Elapsed.TotalSeconds:F2} s[/]");

        var analysis = TraceAnalysis.Run(trace, policies, capacities, shape, EvictionPolicies.Default, settings.Sweep);
        log?.MarkupLine($"[grey]{analysis.Policies.Count} policies x {capacities.Count + analysis.SweepCapacities.Count} capacities simulated in {analysis.CurveSeconds:F2} s[/]");
        if (settings.Report is { } dir)
        {
            string path = HtmlReport.Write(analysis, dir);
            log?.MarkupLine($"report: [link]{Markup.Escape(path)}[/]");
        }

        return Report(analysis).Write(settings.Json);
    }

    /// <summary>The analysis's JSON, and the trace, curve and sizing tables.</summary>
    private static CommandReport Report(TraceAnalysis a)
    {
        var s = a.Statistics;
        var report = new CommandReport(a.ToJson())
            .Table(new Table().Title("trace").AddColumns("requests", "span", "mean / median input", "blocks/request", "unique blocks", "reuse fraction (infinite cache)", "median / p90 reuse distance"))
            .Row($"{s.Requests:N0}", $"{s.SpanSeconds:F0} s", $"{s.MeanInputTokens:F0} / {s.MedianInputTokens}", $"{s.MeanBlocksPerRequest:F2}", $"{s.UniqueBlocks:N0} of {s.BlockAccesses:N0}",
                $"{a.Infinite.HitRatio:F4}", $"{a.Reuse.MedianDistance:N0} / {a.Reuse.P90Distance:N0} blocks");

        var curves = new Table().Title($"hit ratio by capacity (blocks of {a.Trace.BlockTokens} tokens)").AddColumn("policy");
        report.Table(curves);
        foreach (int c in a.Capacities)
        {
            curves.AddColumn(new TableColumn(c.ToString("N0", CultureInfo.InvariantCulture)).RightAligned());
        }

        foreach (string p in a.Policies)
        {
            var row = new List<string> { p == a.DefaultPolicy ? $"[bold]{p}[/] (default)" : p };
            foreach (int c in a.Capacities)
            {
                row.Add(a.HitRatio(p, c).ToString("F4", CultureInfo.InvariantCulture));
            }

            report.Row([.. row]);
        }

        if (a.SweepCapacities.Count > 0)
        {
            report.Table(new Table().Title($"sweep: {a.SweepCapacities.Count} capacities from {a.SweepCapacities[0]:N0} to {a.SweepCapacities[^1]:N0} blocks; worst against the better of lru and lru-prefix")
                .AddColumns("policy", "worst delta", "at capacity"));
            foreach (string p in a.Policies)
            {
                if (a.WorstVsBestSimple.TryGetValue(p, out var w))
                {
                    report.Row(p == a.DefaultPolicy ? $"[bold]{p}[/] (default)" : p, w.Delta.ToString("+0.0000;-0.0000", CultureInfo.InvariantCulture), $"{w.Capacity:N0}");
                }
            }
        }

        var rec = a.Sizing;
        report.Table(new Table().Title($"sizing for {rec.Model} ({rec.BytesPerToken / 1024} KiB per token), policy {rec.Policy}, attainable {rec.Attainable:F4}")
            .AddColumns("target", "hit ratio", "blocks", "tokens", "bytes"));
        foreach (var t in rec.Targets)
        {
            report.Row($"{t.Fraction:P0} of attainable", t.HitRatio.ToString("F4", CultureInfo.InvariantCulture), $"{t.Blocks:N0}", $"{t.Tokens:N0}", ByteSizes.Format(t.Bytes));
        }

        return report.Line($"recommendation: DRAM {ByteSizes.Format(rec.DramBytes)} (50% of attainable), SSD {ByteSizes.Format(rec.SsdBytes)} (up to 99%)");
    }

    internal static List<int> ParseCapacities(string text)
    {
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int c) || c < 1)
            {
                throw new ArgumentException($"--capacities: '{part}' is not a positive number of blocks (a whole number from 1 to {int.MaxValue}).");
            }

            var fits = ByteSizes.FitsMemory(c * CurveRunner.BytesPerBlock, $"--capacities {part} (blocks to simulate)");
            if (!fits.Successful)
            {
                throw new ArgumentException(fits.Message);
            }

            list.Add(c);
        }

        return list.Count > 0 ? list : throw new ArgumentException("--capacities: give at least one capacity in blocks.");
    }

    private static List<string> ParsePolicies(string text)
    {
        var list = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string p = part.ToLowerInvariant();
            if (p is not (CurveRunner.Belady or CurveRunner.Infinite))
            {
                try
                {
                    EvictionPolicies.Create(p, 1);
                }
                catch (ArgumentException)
                {
                    throw new ArgumentException($"--policies: unknown policy '{part}'. Known: {string.Join(", ", EvictionPolicies.BaseNames)} (each also with '-prefix'), {CurveRunner.Belady}, {CurveRunner.Infinite}.");
                }
            }

            if (!list.Contains(p))
            {
                list.Add(p);
            }
        }

        return list.Count > 0 ? list : throw new ArgumentException("--policies: give at least one policy.");
    }
}
