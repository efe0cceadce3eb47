using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Cli.Commands;

/// <summary>
/// The synthetic chat workload: users in multi-turn chats with a shared system prompt and growing histories, over
/// synthetic KV payloads (a pure function of each chunk key, so every retrieved byte is checked). Per turn it shows
/// the hit tokens and the tier that served them, and a summary. It exercises the store without a model; the engine
/// demo runs the same shape of workload on a transformer.
/// </summary>
internal sealed class DemoCommand : AsyncCommand<DemoCommand.Settings>
{
    public sealed class Settings : ChatWorkloadSettings
    {
        [CommandOption("--users")]
        [Description("Concurrent chat users.")]
        [DefaultValue(4)]
        public int Users { get; init; } = 4;

        [CommandOption("--turns")]
        [Description("Turns per user.")]
        [DefaultValue(6)]
        public int Turns { get; init; } = 6;

        [CommandOption("--system-tokens")]
        [Description("Tokens of the shared system prompt.")]
        [DefaultValue(2048)]
        public int SystemTokens { get; init; } = 2048;

        [CommandOption("--model")]
        [Description("Model shape for chunk sizes and the prefill cost estimate.")]
        [DefaultValue("llama3.2-1b")]
        public string Model { get; init; } = "llama3.2-1b";

        [CommandOption("--dram-mib")]
        [Description("DRAM tier capacity in MiB.")]
        [DefaultValue(1024)]
        public int DramMiB { get; init; } = 1024;

        public override ValidationResult Validate() =>
            SettingsRules.FirstFailure(
                UsersAndTurns(Users, 64, Turns, 100),
                (SystemTokens is < 0 or > 1_000_000, "--system-tokens must be in [0, 1000000]."),
                (DramMiB < 16, $"--dram-mib must be at least 16; got {DramMiB}."))
            ?? ByteSizes.FitsMemory((long)DramMiB << 20, $"--dram-mib {DramMiB}");
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shape = ModelShapes.Get(settings.Model);
        var layout = shape.Layout;
        int cb = layout.ChunkBytes;
        long dramBytes = (long)settings.DramMiB << 20;
        if (dramBytes < cb)
        {
            throw new ArgumentException($"--dram-mib {settings.DramMiB} cannot hold one {cb >> 20} MiB chunk of {shape.Name}.");
        }

        using var store = new TieredStore([new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = dramBytes, SlotBytes = cb })]);
        using var trace = settings.OpenTrace(layout.TokensPerChunk);
        var workload = new ChatWorkload(settings.Users, settings.Turns, settings.SystemTokens, settings.Seed);
        var records = new List<JsonObject>();
        var tierTokens = new Dictionary<string, long>();
        long promptTokens = 0, hitTokens = 0, storedChunks = 0;
        double retrieveSeconds = 0;
        var turns = workload.Turns().ToList();
        int maxChunks = turns.Max(t => t.Tokens.Length) / layout.TokensPerChunk;
        var buffer = GC.AllocateUninitializedArray<byte>(checked(Math.Max(1, maxChunks) * cb), pinned: true);
        buffer.AsSpan().Clear(); // touch the pages once, outside the timed retrieves

        async Task RunAsync(Action<string>? progress)
        {
            foreach (var turn in turns)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, turn.Tokens);
                trace?.Record(0, turn.Tokens.Length, keys);
                long t0 = Stopwatch.GetTimestamp();
                int hit = store.Lookup(layout, keys);
                double lookupUs = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                int hitChunks = hit / layout.TokensPerChunk;
                var served = new TierKind[keys.Length];
                t0 = Stopwatch.GetTimestamp();
                int got = await store.RetrieveAsync(layout, keys.AsMemory(0, hitChunks), buffer.AsMemory(0, hitChunks * cb), served.AsMemory(0, hitChunks), cancellationToken);
                double retrieveMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                retrieveSeconds += retrieveMs / 1000;
                for (int c = 0; c < got; c++)
                {
                    if (!SyntheticKv.Matches(keys[c], buffer.AsSpan(c * cb, cb)))
                    {
                        throw new InvalidOperationException($"Chunk {c} of user {turn.User} turn {turn.Turn} came back with wrong bytes.");
                    }
                }

                // "Prefill" the rest: synthesize the KV of the chunks the cache did not supply, and store it.
                for (int c = got; c < keys.Length; c++)
                {
                    SyntheticKv.Fill(keys[c], buffer.AsSpan(c * cb, cb));
                }

                if (keys.Length > got)
                {
                    storedChunks += await store.StoreAsync(layout, keys, buffer.AsMemory(got * cb, (keys.Length - got) * cb), got, cancellationToken);
                }

                var perTier = new JsonObject();
                foreach (var g in served.Take(got).GroupBy(k => k))
                {
                    string name = g.Key.ToString().ToLowerInvariant();
                    long toks = (long)g.Count() * layout.TokensPerChunk;
                    perTier[name] = toks;
                    tierTokens[name] = tierTokens.GetValueOrDefault(name) + toks;
                }

                promptTokens += turn.Tokens.Length;
                hitTokens += got * layout.TokensPerChunk;
                records.Add(new JsonObject
                {
                    ["user"] = turn.User,
                    ["turn"] = turn.Turn,
                    ["prompt_tokens"] = turn.Tokens.Length,
                    ["hit_tokens"] = got * layout.TokensPerChunk,
                    ["tokens_by_tier"] = perTier,
                    ["lookup_us"] = JsonOutput.Round(lookupUs, 1),
                    ["retrieve_ms"] = JsonOutput.Round(retrieveMs, 2),
                    ["stored_chunks"] = keys.Length - got,
                });
                progress?.Invoke($"user {turn.User} turn {turn.Turn}: {got * layout.TokensPerChunk}/{turn.Tokens.Length} tokens cached");
            }
        }

        if (settings.Json)
        {
            await RunAsync(null);
        }
        else
        {
            await AnsiConsole.Progress().AutoClear(true).StartAsync(async ctx =>
            {
                var task = ctx.AddTask("chat turns", maxValue: settings.Users * settings.Turns);
                await RunAsync(msg =>
                {
                    task.Description = Markup.Escape(msg);
                    task.Increment(1);
                });
            });
        }

        double saved = hitTokens * shape.PrefillMsPerToken;
        var dram = store.Tiers[0];
        var summary = new JsonObject
        {
            ["model"] = shape.Name,
            ["chunk_bytes"] = cb,
            ["turns"] = records.Count,
            ["prompt_tokens"] = promptTokens,
            ["hit_tokens"] = hitTokens,
            ["hit_ratio"] = JsonOutput.Round(promptTokens == 0 ? 0 : (double)hitTokens / promptTokens, 4),
            ["tokens_by_tier"] = TierCounts.ToJson(tierTokens),
            ["stored_chunks"] = storedChunks,
            ["retrieve_gbs"] = JsonOutput.Round(retrieveSeconds > 0 ? hitTokens * (double)layout.BytesPerToken / retrieveSeconds / 1e9 : 0),
            ["estimated_prefill_saved_ms"] = JsonOutput.Round(saved, 1),
            ["estimate_basis"] = $"{shape.PrefillMsPerToken:F4} ms/token prefill of {shape.Name} (ARCHITECTURE.md, H200)",
            ["dram_used_bytes"] = dram.UsedBytes,
            ["dram_evictions"] = store.Metrics.Tiers[dram.Name].Evictions,
        };

        var report = new CommandReport(new JsonObject { ["demo"] = "synthetic-chat", ["turn_records"] = new JsonArray([.. records]), ["summary"] = summary })
            .Table(new Table().Title($"TierKV demo: {settings.Users} users x {settings.Turns} turns, shared {settings.SystemTokens}-token system prompt, {shape.Name} KV ({cb >> 20} MiB chunks)")
                .AddColumns("user", "turn", "prompt", "cached", "served by", "lookup", "retrieve"));
        foreach (var r in records)
        {
            string by = TierCounts.Describe(r["tokens_by_tier"]!.AsObject());
            report.Row($"{r["user"]}", $"{r["turn"]}", $"{r["prompt_tokens"]}", $"{r["hit_tokens"]}", by, $"{r["lookup_us"]} us", $"{r["retrieve_ms"]} ms");
        }

        return report.Line($"[bold]{hitTokens:N0} of {promptTokens:N0} prompt tokens served from cache ({summary["hit_ratio"]}), retrieve at {summary["retrieve_gbs"]} GB/s;[/] " +
            $"prefill saved on {shape.Name} ≈ {saved / 1000:F1} s (estimate: {Markup.Escape((string)summary["estimate_basis"]!)}).")
            .Write(settings.Json);
    }
}
