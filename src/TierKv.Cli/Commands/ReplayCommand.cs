using TierKv.Analysis.Replay;
using TierKv.Analysis.Simulation;
using TierKv.Curves;
using TierKv.Eviction;
using TierKv.Tracing;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv replay TRACE</c>: replays a trace through the real tiered store (DRAM tier; synthetic payloads), by
/// timestamp or as fast as possible, and reports the hit ratio, bytes moved and the prefill compute saved.
/// </summary>
internal sealed class ReplayCommand : AsyncCommand<ReplayCommand.Settings>
{
    public sealed class Settings : TraceSettings
    {
        [CommandOption("--policy")]
        [Description("Eviction policy of the DRAM tier (default: TierKV's default policy).")]
        public string? Policy { get; init; }

        [CommandOption("--dram-blocks")]
        [Description("DRAM tier capacity in blocks.")]
        [DefaultValue(5859)]
        public int DramBlocks { get; init; } = 5859;

        [CommandOption("--ssd-blocks")]
        [Description("SSD tier capacity in blocks (TierKv.Nvme, below DRAM, write-back); 0 = DRAM only.")]
        [DefaultValue(0)]
        public int SsdBlocks { get; init; }

        [CommandOption("--ssd-dir")]
        [Description("Folder for the SSD tier's files (needed with --ssd-blocks).")]
        public string? SsdDir { get; init; }

        [CommandOption("--write-back-overflow")]
        [Description("When the SSD tier's write queue is full: 'wait' for room (bounded back-pressure, the default) or 'shed' the write-back at once.")]
        [DefaultValue("wait")]
        public string WriteBackOverflow { get; init; } = "wait";

        [CommandOption("--chunk-bytes")]
        [Description("Synthetic payload bytes per block (a multiple of 256).")]
        [DefaultValue(4096)]
        public int ChunkBytes { get; init; } = 4096;

        [CommandOption("--speed")]
        [Description("Replay by timestamp at this speed-up (1 = real time); 0 = as fast as possible.")]
        [DefaultValue(0.0)]
        public double Speed { get; init; }

        [CommandOption("--no-live-curve")]
        [Description("Run the DRAM tier without its live miss-ratio curve estimator (DRAM-only replays have it by default).")]
        public bool NoLiveCurve { get; init; }

        [CommandOption("--curve-inline")]
        [Description("Simulate the live curve inline, under the DRAM tier's lock, instead of on the estimator's background thread (to compare the two).")]
        public bool CurveInline { get; init; }

        [CommandOption("--curve-policies")]
        [Description("Policies the live curve estimates besides LRU, comma-separated (default: none; 'tier' for the DRAM tier's own policy).")]
        public string? CurvePolicies { get; init; }

        [CommandOption("--curve-policy-rate")]
        [Description("Share of prefix families the other policies' miniature caches simulate (a power of two, 1/1024 to 1).")]
        [DefaultValue(0.125)]
        public double CurvePolicyRate { get; init; } = 0.125;

        [CommandOption("--estimator-reps")]
        [Description("Replays with the estimator on and off (interleaved, rounded up to an even number) to measure its cost; 0 = do not measure.")]
        [DefaultValue(8)]
        public int EstimatorReps { get; init; } = 8;

        [CommandOption("--record-trace")]
        [Description("Write the lookups as a TierKV access trace to this file.")]
        public string? RecordTrace { get; init; }

        public override ValidationResult Validate() =>
            SettingsRules.FirstFailure(
                (DramBlocks < 1, $"--dram-blocks must be at least 1; got {DramBlocks}."),
                (SsdBlocks < 0, $"--ssd-blocks must be 0 (no SSD tier) or more; got {SsdBlocks}."),
                ChunkBytesRule(ChunkBytes),
                (EstimatorReps is < 0 or > 50, $"--estimator-reps must be 0 to 50; got {EstimatorReps}."),
                (!double.IsFinite(Speed) || Speed < 0, $"--speed must be 0 (as fast as possible) or a positive speed-up; got {Speed}."),
                (!Enum.TryParse<TierKv.Store.WriteBackOverflow>(WriteBackOverflow, ignoreCase: true, out _) || int.TryParse(WriteBackOverflow, out _), $"--write-back-overflow must be 'wait' or 'shed', not '{WriteBackOverflow}'."))
            ?? ByteSizes.FitsMemory(DramBlocks * SlotBytes(ChunkBytes), $"--dram-blocks {DramBlocks} of --chunk-bytes {ChunkBytes}");
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shape = settings.Shape();
        string policy = settings.Policy ?? EvictionPolicies.Default;
        var trace = settings.ReadTrace();
        using var recorder = settings.RecordTrace is { } path ? AccessTraceWriter.Create(path, trace.BlockTokens) : null;
        var options = new ReplayOptions { Policy = policy, DramBlocks = settings.DramBlocks, SsdBlocks = settings.SsdBlocks, SsdDirectory = settings.SsdDir, ChunkBytes = settings.ChunkBytes, WriteBackOverflow = Enum.Parse<TierKv.Store.WriteBackOverflow>(settings.WriteBackOverflow, ignoreCase: true) };
        bool live = !settings.NoLiveCurve && settings.SsdBlocks == 0;
        if (live)
        {
            string[] extra = settings.CurvePolicies is { } cp ? cp.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
            for (int i = 0; i < extra.Length; i++)
            {
                extra[i] = extra[i] == "tier" ? policy : extra[i];
            }

            var curves = new MissRatioCurveOptions { Policies = extra, PolicySampleRate = settings.CurvePolicyRate, Background = !settings.CurveInline };
            curves.Validate();
            options = options with { Curves = curves };
        }

        using var replayer = new TraceReplayer(trace, options, recorder);
        ReplayResult result;
        if (settings.Json)
        {
            result = await replayer.RunAsync(settings.Speed, null, cancellationToken);
        }
        else
        {
            AnsiConsole.MarkupLine($"[grey]replay {Markup.Escape(trace.Name)}: {trace.RequestCount:N0} requests, DRAM {settings.DramBlocks:N0} blocks of {settings.ChunkBytes} bytes, policy {Markup.Escape(policy)}, {(settings.SsdBlocks > 0 ? $"SSD {settings.SsdBlocks:N0} blocks in {Markup.Escape(settings.SsdDir ?? string.Empty)}" : "no SSD tier")}, {(settings.Speed > 0 ? $"by timestamp x{settings.Speed}" : "as fast as possible")}[/]");
            result = null!;
            await AnsiConsole.Progress().StartAsync(async ctx =>
            {
                var task = ctx.AddTask("requests", maxValue: trace.RequestCount);
                result = await replayer.RunAsync(settings.Speed, new Progress<int>(n => task.Value = n), cancellationToken);
                task.Value = trace.RequestCount;
            });
        }

        recorder?.Flush();
        double savedMs = result.HitTokens * shape.PrefillMsPerToken;
        var fields = new JsonObject
        {
            ["trace"] = trace.Name,
            ["policy"] = result.Policy,
            ["dram_blocks"] = settings.DramBlocks,
            ["chunk_bytes"] = settings.ChunkBytes,
            ["hit_ratio"] = Math.Round(result.HitRatio, 4),
            ["ssd_blocks"] = settings.SsdBlocks,
            ["tiers"] = TierJson(result),
            ["hit_blocks"] = result.HitBlocks,
            ["blocks"] = result.Blocks,
            ["bytes_read"] = result.BytesRead,
            ["bytes_written"] = result.BytesWritten,
            ["lower_tier_writes_shed"] = result.ShedWrites,
            ["write_back_overflow"] = options.WriteBackOverflow.ToString().ToLowerInvariant(),
            ["write_back_waits"] = result.WriteBackWaits,
            ["write_back_wait_timeouts"] = result.WriteBackWaitTimeouts,
            ["promotions_skipped"] = result.PromotionsSkipped,
            ["model"] = shape.Name,
            ["prefill_ms_per_token"] = shape.PrefillMsPerToken,
            ["prefill_saved_seconds"] = Math.Round(savedMs / 1000, 3),
            ["seconds"] = Math.Round(result.Seconds, 3),
            ["recorded_trace"] = settings.RecordTrace,
        };
        if (live)
        {
            await AddLiveCurve(fields, trace, result, options, settings.EstimatorReps, cancellationToken);
        }

        var report = new CommandReport(fields).Table("tier", "hit blocks", "hit ratio");
        foreach (var node in report.Fields["tiers"]!.AsArray())
        {
            var tier = node!.AsObject();
            report.Row(Markup.Escape((string)tier["tier"]!), $"{(long)tier["hit_blocks"]!:N0}", $"{(double)tier["hit_ratio"]!:F4}");
        }

        return report.Row("[bold]all[/]", $"{result.HitBlocks:N0} of {result.Blocks:N0}", $"{result.HitRatio:F4}")
            .Line($"read {ByteSizes.Format(result.BytesRead)}, stored {ByteSizes.Format(result.BytesWritten)}, {result.ShedWrites:N0} write-backs to the SSD tier shed (queue full; overflow {options.WriteBackOverflow.ToString().ToLowerInvariant()}: {result.WriteBackWaits:N0} waited, {result.WriteBackWaitTimeouts:N0} timed out, {result.PromotionsSkipped:N0} promotions skipped); prefill saved {savedMs / 1000:F1} s of {shape.Name} ({shape.PrefillMsPerToken:F4} ms/token); wall {result.Seconds:F2} s")
            .Write(settings.Json);
    }

    /// <summary>
    /// The live curve at the end of the replay beside what <c>analyze</c> computes exactly for each point, and the
    /// estimator's cost measured in interleaved replays with it on and off.
    /// </summary>
    private static async Task AddLiveCurve(JsonObject o, Analysis.Traces.RequestTrace trace, ReplayResult result, ReplayOptions options, int reps, CancellationToken cancellationToken)
    {
        var policies = new List<string>();
        var capacities = new List<int>();
        foreach (var p in result.Curve)
        {
            if (!policies.Contains(p.Policy))
            {
                policies.Add(p.Policy);
            }

            if (!capacities.Contains((int)p.Capacity))
            {
                capacities.Add((int)p.Capacity);
            }
        }

        var exact = CurveRunner.Run(trace, policies, capacities);
        var points = new JsonArray();
        double worst = 0;
        foreach (var p in result.Curve)
        {
            double e = exact[(policies.IndexOf(p.Policy) * capacities.Count) + capacities.IndexOf((int)p.Capacity)].HitRatio;
            worst = Math.Max(worst, Math.Abs(p.HitRatio - e));
            points.Add(new JsonObject { ["policy"] = p.Policy, ["capacity"] = p.Capacity, ["multiple"] = p.Multiple, ["estimated"] = Math.Round(p.HitRatio, 4), ["exact"] = Math.Round(e, 4) });
        }

        o["live_curve"] = points;
        o["live_curve_worst_error"] = Math.Round(worst, 4);
        o["estimator_memory_bytes"] = result.CurveMemoryBytes;
        o["estimator_lru_sample_rate"] = result.CurveLruSampleRate;
        o["estimator_policy_sample_rate"] = result.CurvePolicySampleRate;
        o["estimator_background"] = options.Curves?.Background ?? false;
        o["estimator_inline_drains"] = result.CurveInlineDrains;
        if (reps > 0)
        {
            var cost = await EstimatorCost.MeasureAsync(trace, options, reps, cancellationToken);
            o["estimator_throughput_ratio"] = Math.Round(cost.ThroughputRatio, 4);
            o["estimator_cpu_seconds"] = cost.EstimatorCpuSeconds is { } ec ? Math.Round(ec, 3) : null;
            o["estimator_inline_drains_measured"] = cost.InlineDrains;
            o["estimator_serving_cpu_throughput_ratio"] = cost.ServingCpuThroughputRatio is { } sr ? Math.Round(sr, 4) : null;
            o["estimator_reps"] = cost.Reps;
            o["estimator_on_seconds_median"] = Math.Round(cost.OnSeconds, 3);
            o["estimator_off_seconds_median"] = Math.Round(cost.OffSeconds, 3);
            o["estimator_median_time_ratio"] = Math.Round(cost.MedianTimeRatio, 4);
            o["estimator_cpu_throughput_ratio"] = Math.Round(cost.CpuThroughputRatio, 4);
            o["estimator_on_cpu_seconds_median"] = Math.Round(cost.OnCpuSeconds, 3);
            o["estimator_off_cpu_seconds_median"] = Math.Round(cost.OffCpuSeconds, 3);
        }
    }

    private static JsonArray TierJson(ReplayResult r)
    {
        var a = new JsonArray();
        for (int i = 0; i < r.TierNames.Count; i++)
        {
            a.Add(new JsonObject { ["tier"] = r.TierNames[i], ["hit_blocks"] = r.TierHitBlocks[i], ["hit_ratio"] = Math.Round((double)r.TierHitBlocks[i] / r.Blocks, 4) });
        }

        return a;
    }
}
