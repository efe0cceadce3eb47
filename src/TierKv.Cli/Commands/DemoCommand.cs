using System.ComponentModel;
using System.Diagnostics;
using System.IO.Hashing;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;
using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers;
using TierKv.Tracing;

namespace TierKv.Cli.Commands;

/// <summary>
/// The synthetic chat workload: users in multi-turn chats with a shared system prompt and growing histories, over
/// synthetic KV payloads (a pure function of each chunk key, so every retrieved byte is checked). Per turn it shows
/// the hit tokens and the tier that served them, and a summary. It exercises the store without a model; the engine
/// demo runs the same shape of workload on a transformer.
/// </summary>
internal sealed class DemoCommand : AsyncCommand<DemoCommand.Settings>
{
    public sealed class Settings : CommandSettings
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

        [CommandOption("--seed")]
        [Description("Seed of the workload (same seed, same tokens).")]
        [DefaultValue(1)]
        public int Seed { get; init; } = 1;

        [CommandOption("--record-trace <FILE>")]
        [Description("Record TierKV's access trace (chunk keys, tenant, tokens, time; no token contents) for `tierkv analyze`.")]
        public string? RecordTrace { get; init; }

        [CommandOption("--json")]
        [Description("Print per-turn records and the summary as JSON.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (Users is < 1 or > 64 || Turns is < 1 or > 100)
            {
                return ValidationResult.Error("--users must be in [1, 64] and --turns in [1, 100].");
            }

            if (SystemTokens is < 0 or > 1_000_000)
            {
                return ValidationResult.Error("--system-tokens must be in [0, 1000000].");
            }

            return DramMiB < 16 ? ValidationResult.Error($"--dram-mib must be at least 16; got {DramMiB}.") : ByteSizes.FitsMemory((long)DramMiB << 20, $"--dram-mib {DramMiB}");
        }
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
        using var trace = settings.RecordTrace is { } tracePath ? AccessTraceWriter.Create(tracePath, layout.TokensPerChunk) : null;
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
            ["tokens_by_tier"] = new JsonObject(tierTokens.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["stored_chunks"] = storedChunks,
            ["retrieve_gbs"] = JsonOutput.Round(retrieveSeconds > 0 ? hitTokens * (double)layout.BytesPerToken / retrieveSeconds / 1e9 : 0),
            ["estimated_prefill_saved_ms"] = JsonOutput.Round(saved, 1),
            ["estimate_basis"] = $"{shape.PrefillMsPerToken:F4} ms/token prefill of {shape.Name} (ARCHITECTURE.md, H200)",
            ["dram_used_bytes"] = dram.UsedBytes,
            ["dram_evictions"] = store.Metrics.Tiers[dram.Name].Evictions,
        };

        if (settings.Json)
        {
            JsonOutput.Write(new JsonObject { ["demo"] = "synthetic-chat", ["turn_records"] = new JsonArray([.. records]), ["summary"] = summary });
            return 0;
        }

        var table = new Table().Title($"TierKV demo: {settings.Users} users x {settings.Turns} turns, shared {settings.SystemTokens}-token system prompt, {shape.Name} KV ({cb >> 20} MiB chunks)")
            .AddColumns("user", "turn", "prompt", "cached", "served by", "lookup", "retrieve");
        foreach (var r in records)
        {
            string by = string.Join(", ", r["tokens_by_tier"]!.AsObject().Select(kv => $"{kv.Key} {kv.Value}"));
            table.AddRow($"{r["user"]}", $"{r["turn"]}", $"{r["prompt_tokens"]}", $"{r["hit_tokens"]}", by.Length == 0 ? "-" : by, $"{r["lookup_us"]} us", $"{r["retrieve_ms"]} ms");
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[bold]{hitTokens:N0} of {promptTokens:N0} prompt tokens served from cache ({summary["hit_ratio"]}), retrieve at {summary["retrieve_gbs"]} GB/s;[/] " +
            $"prefill saved on {shape.Name} ≈ {saved / 1000:F1} s (estimate: {Markup.Escape((string)summary["estimate_basis"]!)}).");
        return 0;
    }
}

/// <summary>Synthetic KV: the payload of a chunk is a pure function of its key, so a reader can check every byte.</summary>
internal static class SyntheticKv
{
    public static void Fill(ChunkKey key, Span<byte> destination)
    {
        // A cheap deterministic stream: 8-byte words derived from the key and the position.
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(destination);
        ulong x = key.Low ^ 0x9E3779B97F4A7C15UL, y = key.High | 1;
        for (int i = 0; i < words.Length; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words[i] = x + (y * (ulong)i);
        }

        for (int i = words.Length * 8; i < destination.Length; i++)
        {
            destination[i] = (byte)(key.Low >> (i % 8));
        }
    }

    public static bool Matches(ChunkKey key, ReadOnlySpan<byte> payload)
    {
        Span<byte> expected = payload.Length <= 1 << 16 ? stackalloc byte[payload.Length] : new byte[payload.Length];
        Fill(key, expected);
        return XxHash3.HashToUInt64(expected) == XxHash3.HashToUInt64(payload) && expected.SequenceEqual(payload);
    }
}

/// <summary>Deterministic multi-turn chats: a shared system prompt, then per user growing user/assistant turns.</summary>
internal sealed class ChatWorkload(int users, int turns, int systemTokens, int seed)
{
    public readonly record struct ChatTurn(int User, int Turn, int[] Tokens);

    public IEnumerable<ChatTurn> Turns()
    {
        var rnd = new Random(seed);
        var system = Enumerable.Range(0, systemTokens).Select(_ => rnd.Next(1, 128000)).ToArray();
        var histories = Enumerable.Range(0, users).Select(_ => new List<int>(system)).ToArray();
        for (int t = 0; t < turns; t++)
        {
            for (int u = 0; u < users; u++)
            {
                var h = histories[u];
                int userMsg = rnd.Next(64, 512);
                for (int i = 0; i < userMsg; i++)
                {
                    h.Add(rnd.Next(1, 128000));
                }

                yield return new ChatTurn(u, t, [.. h]);

                int reply = rnd.Next(128, 768);
                for (int i = 0; i < reply; i++)
                {
                    h.Add(rnd.Next(1, 128000));
                }
            }
        }
    }
}
