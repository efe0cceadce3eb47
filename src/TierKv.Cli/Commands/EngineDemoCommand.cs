using TierKv.Engine.Cache;
using TierKv.Engine.Connector;
using TierKv.Engine.Math;
using TierKv.Engine.Model;
using TierKv.Engine.Serving;
using TierKv.Engine.Text;
using TierKv.Nvme;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv demo</c>: users in multi-turn chats with a shared system prompt and growing histories, on a synthetic
/// transformer (<c>small</c> by default) with DRAM and SSD tiers. Every turn is run twice in the same process: plain
/// recompute (the engine alone) and with TierKV (lookup, planned load, suffix prefill); both times to first token are
/// measured, the logits compared, and the tokens each tier served counted.
/// </summary>
internal sealed class EngineDemoCommand : AsyncCommand<EngineDemoCommand.Settings>
{
    /// <summary>Turns whose cached prefix is at least this long enter the headline speedup.</summary>
    public const int LongPrefixTokens = 4096;

    public sealed class Settings : ChatWorkloadSettings
    {
        [CommandOption("--engine")]
        [Description("Engine: tierkv (the C# reference transformer) or llama.cpp (through LLamaSharp).")]
        [DefaultValue("tierkv")]
        public string Engine { get; init; } = "tierkv";

        [CommandOption("--model")]
        [Description("Synthetic model shape: tiny or small; with --engine llama.cpp also a GGUF file.")]
        [DefaultValue("small")]
        public string Model { get; init; } = "small";

        [CommandOption("--users")]
        [Description("Chat users (turns go round-robin over them).")]
        [DefaultValue(3)]
        public int Users { get; init; } = 3;

        [CommandOption("--turns")]
        [Description("Turns per user.")]
        [DefaultValue(3)]
        public int Turns { get; init; } = 3;

        [CommandOption("--system-tokens")]
        [Description("Tokens of the shared system prompt.")]
        [DefaultValue(1536)]
        public int SystemTokens { get; init; } = 1536;

        [CommandOption("--document-tokens")]
        [Description("Tokens of the document each user pastes in the first turn.")]
        [DefaultValue(3584)]
        public int DocumentTokens { get; init; } = 3584;

        [CommandOption("--message-tokens")]
        [Description("Tokens of each follow-up message.")]
        [DefaultValue(64)]
        public int MessageTokens { get; init; } = 64;

        [CommandOption("--reply-tokens")]
        [Description("Tokens the model generates per turn (greedy).")]
        [DefaultValue(8)]
        public int ReplyTokens { get; init; } = 8;

        [CommandOption("--data")]
        [Description("Data folder for the SSD tier, kept between runs so a second run starts warm (default: tierkv-demo under the temp directory).")]
        public string? Data { get; init; }

        [CommandOption("--fresh")]
        [Description("Empty the data folder's SSD tier first (a cold start).")]
        public bool Fresh { get; init; }

        [CommandOption("--dram-mib")]
        [Description("DRAM tier capacity in MiB (small enough that old chunks move to the SSD).")]
        [DefaultValue(192)]
        public int DramMiB { get; init; } = 192;

        [CommandOption("--ssd-mib")]
        [Description("SSD tier capacity in MiB (0: DRAM only).")]
        [DefaultValue(2048)]
        public int SsdMiB { get; init; } = 2048;

        [CommandOption("--threads")]
        [Description("Engine threads (default: all cores).")]
        public int? Threads { get; init; }

        public override ValidationResult Validate() =>
            SettingsRules.FirstFailure(
                UsersAndTurns(Users, 16, Turns, 20),
                (SystemTokens < 16 || DocumentTokens < 0 || MessageTokens < 8 || ReplyTokens < 1, "--system-tokens >= 16, --document-tokens >= 0, --message-tokens >= 8, --reply-tokens >= 1."),
                (DramMiB < 16 || SsdMiB < 0, "--dram-mib must be >= 16 and --ssd-mib >= 0."))
            ?? ByteSizes.FitsMemory((long)DramMiB << 20, $"--dram-mib {DramMiB}");
    }

    private sealed record TurnRecord(
        int User, int Turn, int PromptTokens, int HitTokens, int LoadedTokens, double RecomputeMs, double CachedMs,
        IReadOnlyDictionary<string, int> Served, string Plan, double LogitDiff, string Reply);

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Engine is not "tierkv")
        {
            return await LlamaEngineDemo.RunAsync(settings, cancellationToken).ConfigureAwait(false);
        }

        var wall = Stopwatch.StartNew();
        if (settings.Threads is { } th)
        {
            EngineThreads.Count = th;
        }

        var config = ModelConfig.Named(settings.Model);
        string data = EngineTiers.DataFolder(settings.Data, "tierkv-demo");
        string ssdDir = Path.Combine(data, TierStackBuilder.SsdFolder);
        if (settings.Fresh && Directory.Exists(ssdDir))
        {
            Directory.Delete(ssdDir, recursive: true);
        }

        Directory.CreateDirectory(data);
        var err = ErrorConsole.Create();
        var log = settings.ProgressConsole();
        err.Grey($"building synthetic model '{settings.Model}' ({config.Parameters / 1e6:F0}M parameters, {config.Layers} layers, hidden {config.Hidden}) ...");
        using var model = new Transformer(ModelWeights.Load(config, new SyntheticWeights(config)));
        var layout = model.Layout;
        var tokenizer = TextTokenizer.Cl100k();
        var chat = new SyntheticChat(tokenizer, settings.Seed);

        var system = chat.Tokens("System", settings.SystemTokens);
        var histories = new List<int>[settings.Users];
        for (int u = 0; u < settings.Users; u++)
        {
            histories[u] = [.. system];
        }

        int maxTokens = settings.SystemTokens + settings.DocumentTokens + (settings.Turns * (settings.MessageTokens + settings.ReplyTokens + 8)) + 512;
        using var pool = model.CreatePagePool(maxTokens);
        using var store = EngineTiers.Open(data, (long)settings.DramMiB << 20, (long)settings.SsdMiB << 20, layout.ChunkBytes, err);
        using var trace = settings.OpenTrace(layout.TokensPerChunk);
        var connector = new KvConnector(store, layout) { Trace = trace };
        var plain = new CachedEngine(model, null);
        var cached = new CachedEngine(model, connector);

        await EngineTiers.CalibrateAsync(store, layout, cached.Planner, err.Grey, cancellationToken).ConfigureAwait(false);
        string tiers = string.Join(" + ", store.Tiers.Select(t => $"{t.Name} {t.CapacityBytes >> 20} MiB"));
        err.Grey($"tiers: {tiers} in {data}; {layout.ChunkBytes / 1048576.0:F1} MiB per 256-token chunk");

        var records = new List<TurnRecord>();
        var logitsPlain = new float[config.VocabSize];
        var logitsCached = new float[config.VocabSize];
        var sampler = new TokenSampler();
        int totalTurns = settings.Users * settings.Turns;

        async Task RunAllAsync(Action<string> step)
        {
            for (int turn = 0; turn < settings.Turns; turn++)
            {
                for (int u = 0; u < settings.Users; u++)
                {
                    var history = histories[u];
                    history.AddRange(turn == 0 && settings.DocumentTokens > 0
                        ? [.. chat.Tokens("User", settings.DocumentTokens), .. chat.Tokens("User", settings.MessageTokens)]
                        : chat.Tokens("User", settings.MessageTokens));
                    history.AddRange(tokenizer.Encode("\nAssistant:"));
                    int[] prompt = [.. history];
                    step($"user {u + 1} turn {turn + 1}: {prompt.Length} tokens");

                    PrefillResult recompute;
                    using (var seq = new KvSequence(pool))
                    {
                        recompute = plain.Prefill(seq, prompt, logitsPlain);
                    }

                    using var cachedSeq = new KvSequence(pool);
                    var hit = cached.Prefill(cachedSeq, prompt, logitsCached);
                    await hit.Saves.ConfigureAwait(false);
                    double diff = 0;
                    for (int i = 0; i < logitsPlain.Length; i++)
                    {
                        diff = System.Math.Max(diff, System.Math.Abs((double)logitsPlain[i] - logitsCached[i]));
                    }

                    var reply = cached.Decode(cachedSeq, logitsCached, settings.ReplyTokens, sampler);
                    history.AddRange(reply);
                    await connector.SaveSequenceAsync(cachedSeq, history.ToArray()).ConfigureAwait(false);
                    records.Add(new TurnRecord(
                        u + 1, turn + 1, prompt.Length, hit.HitTokens, hit.LoadedTokens, recompute.Seconds * 1000, hit.Seconds * 1000,
                        hit.ServedTokens, hit.Plan?.Reason ?? "", diff, tokenizer.Decode(reply)));
                    var r = records[^1];
                    step($"user {r.User} turn {r.Turn}: {r.PromptTokens} tokens, cached {r.LoadedTokens}, TTFT {r.RecomputeMs:F0} ms -> {r.CachedMs:F0} ms");
                }
            }
        }

        if (log is null)
        {
            await RunAllAsync(err.Grey).ConfigureAwait(false);
        }
        else
        {
            await log.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("turns", maxValue: totalTurns);
                    await RunAllAsync(s =>
                    {
                        task.Description = s.Replace("[", "[[", StringComparison.Ordinal).Replace("]", "]]", StringComparison.Ordinal);
                        if (s.Contains("TTFT", StringComparison.Ordinal))
                        {
                            task.Increment(1);
                        }
                    }).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }

        // Summary: the headline speedup covers the turns with a long cached prefix.
        double longRecompute = 0, longCached = 0, maxDiff = 0;
        int longTurns = 0;
        long promptTotal = 0, loadedTotal = 0;
        var servedTotal = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            promptTotal += r.PromptTokens;
            loadedTotal += r.LoadedTokens;
            maxDiff = System.Math.Max(maxDiff, r.LogitDiff);
            foreach (var (tier, n) in r.Served)
            {
                servedTotal[tier] = servedTotal.GetValueOrDefault(tier) + n;
            }

            if (r.LoadedTokens >= LongPrefixTokens)
            {
                longTurns++;
                longRecompute += r.RecomputeMs;
                longCached += r.CachedMs;
            }
        }

        double speedup = longCached > 0 ? longRecompute / longCached : 0;
        double savedFraction = promptTotal > 0 ? (double)loadedTotal / promptTotal : 0;
        double seconds = wall.Elapsed.TotalSeconds;

        var turns = new JsonArray();
        foreach (var r in records)
        {
            turns.Add(new JsonObject
            {
                ["user"] = r.User,
                ["turn"] = r.Turn,
                ["prompt_tokens"] = r.PromptTokens,
                ["hit_tokens"] = r.HitTokens,
                ["cached_prefix_tokens"] = r.LoadedTokens,
                ["computed_tokens"] = r.PromptTokens - r.LoadedTokens,
                ["ttft_recompute_ms"] = JsonOutput.Round(r.RecomputeMs, 2),
                ["ttft_cached_ms"] = JsonOutput.Round(r.CachedMs, 2),
                ["speedup"] = JsonOutput.Round(r.CachedMs > 0 ? r.RecomputeMs / r.CachedMs : 0, 2),
                ["served_tokens"] = TierCounts.ToJson(r.Served),
                ["plan"] = r.Plan,
                ["max_logit_diff"] = r.LogitDiff,
                ["reply"] = r.Reply,
            });
        }

        var report = new CommandReport(new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["name"] = config.Name,
                ["parameters"] = config.Parameters,
                ["layers"] = config.Layers,
                ["hidden"] = config.Hidden,
                ["heads"] = config.Heads,
                ["kv_heads"] = config.KvHeads,
                ["kv_bytes_per_token"] = layout.BytesPerToken,
            },
            ["tiers"] = tiers,
            ["data"] = data,
            ["threads"] = EngineThreads.Count,
            ["turns"] = turns,
            ["summary"] = new JsonObject
            {
                ["ttft_recompute_ms"] = JsonOutput.Round(longRecompute, 2),
                ["ttft_cached_ms"] = JsonOutput.Round(longCached, 2),
                ["speedup"] = JsonOutput.Round(speedup, 2),
                ["long_prefix_turns"] = longTurns,
                ["long_prefix_tokens"] = LongPrefixTokens,
                ["prefill_saved_fraction"] = JsonOutput.Round(savedFraction, 4),
                ["max_logit_diff"] = maxDiff,
                ["served_tokens"] = TierCounts.ToJson(servedTotal),
                ["prefill_gflops"] = JsonOutput.Round(cached.Planner.PrefillFlopsPerSecond / 1e9, 1),
                ["seconds"] = JsonOutput.Round(seconds, 1),
            },
        });

        var table = new Table().Border(TableBorder.Rounded).Title("Time to first token, recompute vs TierKV");
        foreach (string col in (string[])["user", "turn", "prompt", "cached", "computed", "recompute ms", "TierKV ms", "speedup", "served by", "logit diff"])
        {
            table.AddColumn(new TableColumn(col).RightAligned());
        }

        report.Table(table);
        foreach (var r in records)
        {
            report.Row(
                r.User.ToString(), r.Turn.ToString(), r.PromptTokens.ToString(), r.LoadedTokens.ToString(),
                (r.PromptTokens - r.LoadedTokens).ToString(), r.RecomputeMs.ToString("F0"), r.CachedMs.ToString("F0"),
                (r.RecomputeMs / r.CachedMs).ToString("F1") + "x", TierCounts.Describe(r.Served), r.LogitDiff.ToString("G3"));
        }

        return report
            .Line($"Turns with a cached prefix of {LongPrefixTokens}+ tokens: [bold]{longTurns}[/]; summed TTFT {longRecompute:F0} ms recompute vs {longCached:F0} ms with TierKV: [bold green]{speedup:F1}x[/].")
            .Line($"Prefill saved: [bold]{savedFraction:P1}[/] of all prompt tokens were loaded, not computed. Served: {string.Join(", ", servedTotal.Select(kv => $"{kv.Key} {kv.Value} tokens"))}.")
            .Line($"Largest logit difference, cached vs recompute: [bold]{maxDiff}[/] (bit-identical when 0). Engine prefill ~{cached.Planner.PrefillFlopsPerSecond / 1e9:F0} GFLOP/s; run took {seconds:F0} s.")
            .Write(settings.Json, exitCode: maxDiff == 0 ? 0 : 1);
    }
}
