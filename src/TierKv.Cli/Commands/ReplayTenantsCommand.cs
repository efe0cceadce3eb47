using TierKv.Analysis.Replay;
using TierKv.Analysis.Traces;
using TierKv.Eviction;
using TierKv.Rebalancing;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv replay-tenants TRACE (--tenant2 TRACE2 | --scan-blocks B)</c>: two tenants share a DRAM budget; their traces
/// are replayed interleaved by time through two real DRAM tiers, once per static split of a sweep and once with the
/// rebalancer moving capacity by the live curves every N requests (docs/operations.md, "DRAM shared among tenants").
/// </summary>
internal sealed class ReplayTenantsCommand : Command<ReplayTenantsCommand.Settings>
{
    public sealed class Settings : TraceSettings
    {
        [CommandOption("--tenant2")]
        [Description("Trace of the second tenant (the first is TRACE).")]
        public string? Tenant2 { get; init; }

        [CommandOption("--scan-blocks")]
        [Description("Instead of --tenant2: a scanning second tenant, one request of this many never-reused blocks beside each request of TRACE.")]
        public int? ScanBlocks { get; init; }

        [CommandOption("--align-spans")]
        [Description("Stretch the shorter trace's clock so both tenants span the same time.")]
        public bool AlignSpans { get; init; }

        [CommandOption("--dram-blocks")]
        [Description("DRAM blocks the two tenants share.")]
        [DefaultValue(20000)]
        public int DramBlocks { get; init; } = 20000;

        [CommandOption("--min-share")]
        [Description("Each tenant's minimum, as a share of --dram-blocks.")]
        [DefaultValue(0.1)]
        public double MinShare { get; init; } = 0.1;

        [CommandOption("--max-share")]
        [Description("Each tenant's maximum, as a share of --dram-blocks.")]
        [DefaultValue(0.9)]
        public double MaxShare { get; init; } = 0.9;

        [CommandOption("--start-share")]
        [Description("The first tenant's share when the rebalanced run starts.")]
        [DefaultValue(0.5)]
        public double StartShare { get; init; } = 0.5;

        [CommandOption("--splits")]
        [Description("Static splits swept (their number plus one shares, from the least to the most the bounds allow).")]
        [DefaultValue(16)]
        public int Splits { get; init; } = 16;

        [CommandOption("--policy")]
        [Description("Eviction policy of both DRAM tiers (default: TierKV's default policy).")]
        public string? Policy { get; init; }

        [CommandOption("--rebalance-every")]
        [Description("Requests (both tenants) between two rebalancing steps.")]
        [DefaultValue(256)]
        public int RebalanceEvery { get; init; } = 256;

        [CommandOption("--step-blocks")]
        [Description("Most blocks one rebalancing step moves (default: a 64th of --dram-blocks).")]
        public int? StepBlocks { get; init; }

        [CommandOption("--hysteresis")]
        [Description("Gain in summed hit ratio a new target split must promise before capacity moves toward it.")]
        [DefaultValue(0.002)]
        public double Hysteresis { get; init; } = 0.002;

        [CommandOption("--warmup")]
        [Description("Accesses (both tenants) before the first move, as a multiple of --dram-blocks.")]
        [DefaultValue(2.0)]
        public double Warmup { get; init; } = 2.0;

        [CommandOption("--curve-decay")]
        [Description("How much of the curves' history each rebalancing step keeps (1: all since start).")]
        [DefaultValue(0.9)]
        public double CurveDecay { get; init; } = 0.9;

        [CommandOption("--policy-curves")]
        [Description("The rebalancer reads the tiers' own policy's curves (miniature caches, as Curves:Policies naming it) instead of LRU's.")]
        public bool PolicyCurves { get; init; }

        [CommandOption("--chunk-bytes")]
        [Description("Synthetic payload bytes per block (a multiple of 256; each block takes a 4 KiB-aligned slot).")]
        [DefaultValue(256)]
        public int ChunkBytes { get; init; } = 256;

        public override ValidationResult Validate() =>
            SettingsRules.FirstFailure(
                ((Tenant2 is null) == (ScanBlocks is null), "Give the second tenant as --tenant2 TRACE2 or as --scan-blocks B (one of them)."),
                (ScanBlocks is < 1, $"--scan-blocks must be at least 1; got {ScanBlocks}."),
                (DramBlocks < 2, $"--dram-blocks must be at least 2; got {DramBlocks}."),
                (!(MinShare > 0 && MinShare <= 0.5), $"--min-share must be in (0, 0.5]; got {MinShare}."),
                (!(MaxShare >= 0.5 && MaxShare <= 1) || MaxShare < MinShare, $"--max-share must be in [0.5, 1]; got {MaxShare}."),
                (!(StartShare >= MinShare && StartShare <= MaxShare), $"--start-share must lie between --min-share and --max-share; got {StartShare}."),
                (Splits is < 1 or > 200, $"--splits must be 1 to 200; got {Splits}."),
                ChunkBytesRule(ChunkBytes))
            ?? ByteSizes.FitsMemory(2L * DramBlocks * SlotBytes(ChunkBytes), $"two pools of up to --dram-blocks {DramBlocks}");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var first = settings.ReadTrace();
        RequestTrace second;
        if (settings.ScanBlocks is { } scan)
        {
            second = ScanTrace.Beside(first, scan);
        }
        else
        {
            second = TraceFiles.Read(settings.Tenant2!);
            TraceWarnings.Print(second);
        }

        int total = settings.DramBlocks;
        int min = Math.Max(1, (int)(total * settings.MinShare));
        int max = Math.Min(total - min, (int)Math.Ceiling(total * settings.MaxShare));
        string policy = settings.Policy ?? EvictionPolicies.Default;
        var options = new SharedReplayOptions
        {
            TotalBlocks = total,
            MinBlocks = [min, min],
            MaxBlocks = [max, max],
            Policy = policy,
            Curves = new() { Multiples = RebalanceOptions.CurveMultiples, Policies = settings.PolicyCurves ? [policy] : [] },
            ChunkBytes = settings.ChunkBytes,
            RebalanceEvery = settings.RebalanceEvery,
            AlignSpans = settings.AlignSpans,
            Rebalance = new RebalanceOptions { StepSlots = settings.StepBlocks ?? Math.Max(1, total / 64), Hysteresis = settings.Hysteresis, WarmupMultiple = settings.Warmup, CurveDecay = settings.CurveDecay },
        };
        var replay = new SharedDramReplay([first, second], options);
        var splits = replay.StaticSplits(settings.Splits);
        int start = Math.Clamp((int)Math.Round(total * settings.StartShare), min, max);
        int[] startSplit = [start, total - start];
        settings.ProgressConsole()?.MarkupLine($"[grey]replay-tenants {Markup.Escape(first.Name)} + {Markup.Escape(second.Name)}: {replay.RequestCount:N0} requests, {total:N0} DRAM blocks shared, {splits.Count} static splits and one rebalanced run[/]");
        var sw = Stopwatch.StartNew();

        // The runs are independent and each deterministic: run them side by side.
        var runs = new SharedReplayRun[splits.Count + 1];
        Parallel.For(0, runs.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, i =>
            runs[i] = i < splits.Count ? replay.Run(splits[i], rebalance: false) : replay.Run(startSplit, rebalance: true));
        var rebalanced = runs[^1];
        int best = 0;
        var sweep = new JsonArray();
        for (int i = 0; i < splits.Count; i++)
        {
            best = runs[i].HitRatio > runs[best].HitRatio ? i : best;
            sweep.Add(new JsonObject { ["split"] = Blocks(splits[i]), ["hit_ratio"] = Math.Round(runs[i].HitRatio, 4), ["tenant_hit_ratios"] = Ratios(runs[i]) });
        }

        var timeline = new JsonArray();
        foreach (var (request, blocks) in rebalanced.Timeline)
        {
            timeline.Add(new JsonObject { ["request"] = request, ["blocks"] = Blocks(blocks) });
        }

        bool withinMinimums = rebalanced.LowestBlocks[0] >= min && rebalanced.LowestBlocks[1] >= min;
        var fields = new JsonObject
        {
            ["traces"] = new JsonArray(first.Name, second.Name),
            ["requests"] = replay.RequestCount,
            ["dram_blocks"] = total,
            ["policy"] = options.Policy,
            ["min_blocks"] = min,
            ["max_blocks"] = max,
            ["rebalance_every"] = options.RebalanceEvery,
            ["step_blocks"] = options.Rebalance.StepSlots,
            ["hysteresis"] = options.Rebalance.Hysteresis,
            ["curves"] = settings.PolicyCurves ? options.Policy : "lru",
            ["static_sweep"] = sweep,
            ["best_static"] = new JsonObject { ["split"] = Blocks(splits[best]), ["hit_ratio"] = Math.Round(runs[best].HitRatio, 4) },
            ["rebalanced"] = new JsonObject
            {
                ["hit_ratio"] = Math.Round(rebalanced.HitRatio, 4),
                ["tenant_hit_ratios"] = Ratios(rebalanced),
                ["start_blocks"] = Blocks(rebalanced.StartBlocks),
                ["end_blocks"] = Blocks(rebalanced.EndBlocks),
                ["min_capacity_seen"] = Blocks(rebalanced.LowestBlocks),
                ["moves"] = rebalanced.Moves,
                ["within_minimums"] = withinMinimums,
            },
            ["rebalanced_minus_best_static"] = Math.Round(rebalanced.HitRatio - runs[best].HitRatio, 4),
            ["timeline"] = timeline,
            ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3),
        };
        var report = new CommandReport(fields).Table("run", $"{Markup.Escape(first.Name)} blocks", $"{Markup.Escape(second.Name)} blocks", "summed hit ratio");
        for (int i = 0; i < splits.Count; i++)
        {
            report.Row(i == best ? "[bold]static (best)[/]" : "static", $"{splits[i][0]:N0}", $"{splits[i][1]:N0}", $"{runs[i].HitRatio:F4}");
        }

        return report.Row("[bold]rebalanced[/]", $"{rebalanced.StartBlocks[0]:N0} -> {rebalanced.EndBlocks[0]:N0}", $"{rebalanced.StartBlocks[1]:N0} -> {rebalanced.EndBlocks[1]:N0}", $"{rebalanced.HitRatio:F4}")
            .Line($"rebalanced minus best static: {rebalanced.HitRatio - runs[best].HitRatio:+0.0000;-0.0000}; {rebalanced.Moves} moves; fewest blocks seen {rebalanced.LowestBlocks[0]:N0} / {rebalanced.LowestBlocks[1]:N0} (minimum {min:N0}); wall {sw.Elapsed.TotalSeconds:F1} s")
            .Write(settings.Json, withinMinimums ? 0 : 1);
    }

    private static JsonArray Blocks(IReadOnlyList<int> blocks) => new([.. blocks.Select(b => (JsonNode)b)]);

    private static JsonArray Ratios(SharedReplayRun run) => new([.. Enumerable.Range(0, run.Blocks.Length).Select(i => (JsonNode)Math.Round(run.TenantHitRatio(i), 4))]);
}
