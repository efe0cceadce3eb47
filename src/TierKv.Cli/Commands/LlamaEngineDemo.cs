using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using TierKv.Engine.Planning;
using TierKv.LlamaSharp;
using TierKv.LlamaSharp.Model;
using TierKv.LlamaSharp.Session;
using TierKv.Metrics;
using TierKv.Nvme;
using TierKv.Tiers;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv demo --engine llama.cpp</c>: the demo's chat shape on llama.cpp through LLamaSharp. Every turn runs three
/// times on one context and sequence: with TierKV (restore the cached prefix, decode the rest), with llama.cpp
/// recomputing the whole prompt, and with llama.cpp keeping the same prefix in its own KV cache and decoding the same
/// suffix the same way (the exactness reference: the logits must be equal bit for bit).
/// </summary>
internal static class LlamaEngineDemo
{
    private static readonly LLamaSeqId Seq = (LLamaSeqId)0;

    /// <summary>The sequence restores load chunk groups into before sharing them with <see cref="Seq"/>.</summary>
    private static readonly LLamaSeqId Scratch = (LLamaSeqId)1;

    private sealed record TurnRecord(
        int User, int Turn, int PromptTokens, int HitTokens, int RestoredTokens, double RecomputeMs, double CachedMs, double RestoreMs,
        long RestoreBytes, IReadOnlyDictionary<string, int> Served, string Plan, double DiffVsLlamaCache, double DiffVsRecompute,
        bool Identical, string Reply);

    public static async Task<int> RunAsync(EngineDemoCommand.Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Engine is not ("llama.cpp" or "llamacpp"))
        {
            throw new ArgumentException($"--engine '{settings.Engine}' is not known: use tierkv or llama.cpp.");
        }

        var wall = Stopwatch.StartNew();
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        void Progress(string message) => err.MarkupLineInterpolated($"[grey]{message}[/]");
        LlamaRuntime.Log = msg => Progress("llama.cpp: " + msg);
        LlamaRuntime.Configure();

        string data = Path.GetFullPath(settings.Data ?? Path.Combine(Path.GetTempPath(), "tierkv-demo-llama"));
        string ssdDir = Path.Combine(data, TierStackBuilder.SsdFolder);
        if (settings.Fresh && Directory.Exists(ssdDir))
        {
            Directory.Delete(ssdDir, recursive: true);
        }

        Directory.CreateDirectory(data);
        string modelPath = LlamaModelShape.IsShape(settings.Model) ? LlamaModelMaker.Ensure(data, settings.Model, Progress) : settings.Model;

        var model = LlamaModelFile.Open(modelPath, data);
        var config = model.Config;
        int threads = settings.Threads ?? Environment.ProcessorCount;
        int maxTokens = settings.SystemTokens + settings.DocumentTokens + (settings.Turns * (settings.MessageTokens + settings.ReplyTokens + 16)) + 512;
        var parameters = new ModelParams(model.Path)
        {
            ContextSize = (uint)((maxTokens + 255) / 256 * 256),
            BatchSize = 512,
            UBatchSize = 512,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            SeqMax = 2,
            KVUnified = true,
        };
        Progress($"loading {model.Path} in llama.cpp ({config.Parameters / 1e6:F1}M parameters, {config.Layers} layers, hidden {config.Hidden}, {config.KvHeads} KV heads) ...");
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var ctx = context.NativeHandle;
        var layout = LlamaKvConnector.LayoutOf(model, parameters.TypeK);
        // --dram-mib counts KV: a llama.cpp chunk also carries its state headers (layout.FrameBytes, 3 KiB of a 4 MiB
        // chunk for `small`, a page once rounded), so the tier gets slots for as many chunks as that much KV fills.
        long slot = new HostMemoryTierOptions { SlotBytes = layout.ChunkBytes }.AlignedSlotBytes;
        using var store = TierStackBuilder.Build(new TierStackOptions
        {
            DataDirectory = data,
            DramCapacityBytes = ((long)settings.DramMiB << 20) / layout.KvBytesPerChunk * slot,
            SsdCapacityBytes = (long)settings.SsdMiB << 20,
            ChunkBytes = layout.ChunkBytes,
            Log = msg => Progress(msg),
        });
        using var conn = new LlamaKvConnector(ctx, model, store, Seq, log: msg => Progress(msg));
        if (conn.Disabled is not null)
        {
            throw new InvalidOperationException($"The llama.cpp demo needs TierKV on: {conn.Disabled}.");
        }

        if (LlamaKvConnector.HasUnifiedKvCache(ctx))
        {
            conn.ScratchSequence = Scratch;

            // For measuring the group size (docs/llamacpp.md): TIERKV_LLAMA_RESTORE_GROUP_BYTES overrides the default.
            if (long.TryParse(Environment.GetEnvironmentVariable("TIERKV_LLAMA_RESTORE_GROUP_BYTES"), out long groupBytes) && groupBytes > 0)
            {
                conn.RestoreGroupBytes = groupBytes;
                Progress($"restore groups of at most {groupBytes} KV bytes (TIERKV_LLAMA_RESTORE_GROUP_BYTES)");
            }
        }
        else
        {
            Progress("this llama.cpp build does not say whether its KV cache is unified: restores go through one state blob");
        }

        var decoder = new LlamaDecoder(ctx, (int)parameters.BatchSize);
        int vocab = weights.Vocab.Count;
        foreach (var tier in store.Tiers.Skip(1))
        {
            if (await TierCalibration.MeasureAsync(tier, layout, conn.Planner, 4, cancellationToken).ConfigureAwait(false) is { } rd)
            {
                Progress($"calibrated {rd.Tier}: {rd.Bytes / rd.Seconds / 1e9:F2} GB/s read");
            }
        }

        var chat = new LlamaChatText(context, settings.Seed);
        WarmUp(decoder, conn, chat, vocab);
        string tiers = string.Join(" + ", store.Tiers.Select(t => $"{t.Name} {t.CapacityBytes >> 20} MiB"));
        Progress($"tiers: {tiers} in {data}; {layout.ChunkBytes / 1024.0:F0} KiB per 256-token chunk ({layout.BytesPerToken} B of {KvName(layout)} KV per token); {threads} threads");

        var system = chat.Tokens("System", settings.SystemTokens);
        var histories = new List<int>[settings.Users];
        for (int u = 0; u < settings.Users; u++)
        {
            histories[u] = [.. system];
        }

        var records = new List<TurnRecord>();
        var logitsCached = new float[vocab];
        var logitsRecompute = new float[vocab];
        var logitsReference = new float[vocab];
        var assistant = chat.Encode("\nAssistant:");
        using var memcpy = new MemcpyBaseline();
        double memcpySeconds = 0, memcpyCpu = 0, restoreCpu = 0;
        long memcpyBytes = 0;
        var phases = new double[4];
        for (int turn = 0; turn < settings.Turns; turn++)
        {
            for (int u = 0; u < settings.Users; u++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var history = histories[u];
                if (turn == 0 && settings.DocumentTokens > 0)
                {
                    history.AddRange(chat.Tokens("User", settings.DocumentTokens));
                }

                history.AddRange(chat.Tokens("User", settings.MessageTokens));
                history.AddRange(assistant);
                int[] prompt = [.. history];

                // With TierKV: restore what the planner loads, decode the rest. The sequence is emptied first, outside
                // the timers, as before the recompute below (so the restore's wall and CPU spans are the same).
                decoder.Truncate(Seq);
                long t0 = Stopwatch.GetTimestamp();
                double? cpu0 = ThreadCpuClock.Now();
                var restore = conn.Restore(Seq, prompt);
                double restoreCpuSeconds = ThreadCpuClock.Now() - cpu0 ?? 0;
                decoder.Decode(Seq, prompt.AsSpan(restore.RestoredTokens), restore.RestoredTokens, logitsCached);
                double cachedMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (restore.KvBytes > 0)
                {
                    // The baseline, right after the restore so both see the same machine: one memcpy of the same bytes.
                    memcpySeconds += memcpy.Copy(restore.KvBytes, out double copyCpu);
                    memcpyCpu += copyCpu;
                    restoreCpu += restoreCpuSeconds;
                    memcpyBytes += restore.KvBytes;
                    if (conn.LastPhases is { } ph)
                    {
                        phases[0] += ph.FetchSeconds;
                        phases[1] += ph.AssembleSeconds;
                        phases[2] += ph.SetStateSeconds;
                        phases[3] += ph.ShareSeconds;
                    }
                }

                var replyCached = new List<int>();
                decoder.Generate(Seq, logitsCached.ToArray(), prompt.Length, settings.ReplyTokens, replyCached);
                int[] sequence = [.. prompt, .. replyCached.Take(replyCached.Count - 1)];
                var save = conn.SaveAsync(Seq, sequence);

                // llama.cpp alone: the whole prompt, then (the reference) back to the restored prefix and the same suffix.
                decoder.Truncate(Seq);
                t0 = Stopwatch.GetTimestamp();
                decoder.Decode(Seq, prompt, 0, logitsRecompute);
                double recomputeSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                conn.Planner.ObservePrefill(prompt.Length, 0, recomputeSeconds);
                var replyRecompute = new List<int>();
                decoder.Generate(Seq, logitsRecompute.ToArray(), prompt.Length, settings.ReplyTokens, replyRecompute);
                decoder.Truncate(Seq, restore.RestoredTokens);
                if (restore.RestoredTokens > 0)
                {
                    decoder.Decode(Seq, prompt.AsSpan(restore.RestoredTokens), restore.RestoredTokens, logitsReference);
                }
                else
                {
                    decoder.Truncate(Seq);
                    decoder.Decode(Seq, prompt, 0, logitsReference);
                }

                await save.ConfigureAwait(false);
                history.AddRange(replyCached);
                records.Add(new TurnRecord(
                    u + 1, turn + 1, prompt.Length, restore.HitTokens, restore.RestoredTokens, recomputeSeconds * 1000, cachedMs,
                    restore.Seconds * 1000, restore.KvBytes, restore.ServedTokens, restore.Reason, MaxDiff(logitsReference, logitsCached),
                    MaxDiff(logitsRecompute, logitsCached), replyCached.SequenceEqual(replyRecompute), chat.Decode(replyCached)));
                var r = records[^1];
                Progress($"user {r.User} turn {r.Turn}: {r.PromptTokens} tokens, restored {r.RestoredTokens}, TTFT {r.RecomputeMs:F0} ms -> {r.CachedMs:F1} ms, diff vs llama cache {r.DiffVsLlamaCache}");
            }
        }

        await store.DrainAsync(cancellationToken).ConfigureAwait(false);
        decoder.Truncate(Seq);

        double longRecompute = 0, longCached = 0, maxDiffCache = 0, maxDiffRecompute = 0, restoreSeconds = 0;
        long restoreBytes = 0, promptTotal = 0, restoredTotal = 0;
        int longTurns = 0;
        bool identical = true;
        var servedTotal = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            promptTotal += r.PromptTokens;
            restoredTotal += r.RestoredTokens;
            maxDiffCache = Math.Max(maxDiffCache, r.DiffVsLlamaCache);
            maxDiffRecompute = Math.Max(maxDiffRecompute, r.DiffVsRecompute);
            identical &= r.Identical;
            if (r.RestoreBytes > 0)
            {
                restoreBytes += r.RestoreBytes;
                restoreSeconds += r.RestoreMs / 1000;
            }

            foreach (var (tier, n) in r.Served)
            {
                servedTotal[tier] = servedTotal.GetValueOrDefault(tier) + n;
            }

            if (r.RestoredTokens >= EngineDemoCommand.LongPrefixTokens)
            {
                longTurns++;
                longRecompute += r.RecomputeMs;
                longCached += r.CachedMs;
            }
        }

        double speedup = longCached > 0 ? longRecompute / longCached : 0;
        double savedFraction = promptTotal > 0 ? (double)restoredTotal / promptTotal : 0;
        double restoreGbs = restoreSeconds > 0 ? restoreBytes / restoreSeconds / 1e9 : 0;
        double memcpyGbs = memcpySeconds > 0 ? memcpyBytes / memcpySeconds / 1e9 : 0;
        double restoreCpuGbs = restoreCpu > 0 ? restoreBytes / restoreCpu / 1e9 : 0;
        double memcpyCpuGbs = memcpyCpu > 0 ? memcpyBytes / memcpyCpu / 1e9 : 0;
        bool ok = maxDiffCache == 0 && identical;
        if (settings.Json)
        {
            var turns = new JsonArray();
            foreach (var r in records)
            {
                turns.Add(new JsonObject
                {
                    ["user"] = r.User,
                    ["turn"] = r.Turn,
                    ["prompt_tokens"] = r.PromptTokens,
                    ["hit_tokens"] = r.HitTokens,
                    ["cached_prefix_tokens"] = r.RestoredTokens,
                    ["computed_tokens"] = r.PromptTokens - r.RestoredTokens,
                    ["ttft_recompute_ms"] = JsonOutput.Round(r.RecomputeMs, 2),
                    ["ttft_cached_ms"] = JsonOutput.Round(r.CachedMs, 2),
                    ["restore_ms"] = JsonOutput.Round(r.RestoreMs, 3),
                    ["speedup"] = JsonOutput.Round(r.CachedMs > 0 ? r.RecomputeMs / r.CachedMs : 0, 2),
                    ["served_tokens"] = TierCounts.ToJson(r.Served),
                    ["plan"] = r.Plan,
                    ["max_logit_diff_vs_llama_cache"] = r.DiffVsLlamaCache,
                    ["max_logit_diff_vs_recompute"] = r.DiffVsRecompute,
                    ["identical_output"] = r.Identical,
                    ["reply"] = r.Reply,
                });
            }

            JsonOutput.Write(new JsonObject
            {
                ["model"] = new JsonObject
                {
                    ["path"] = model.Path,
                    ["fingerprint"] = model.Fingerprint.ToString("x32", System.Globalization.CultureInfo.InvariantCulture),
                    ["parameters"] = config.Parameters,
                    ["layers"] = config.Layers,
                    ["hidden"] = config.Hidden,
                    ["heads"] = config.Heads,
                    ["kv_heads"] = config.KvHeads,
                    ["kv_type"] = KvName(layout),
                    ["kv_bytes_per_token"] = layout.BytesPerToken,
                },
                ["tiers"] = tiers,
                ["data"] = data,
                ["threads"] = threads,
                ["turns"] = turns,
                ["summary"] = new JsonObject
                {
                    ["engine"] = "llama.cpp",
                    ["ttft_recompute_ms"] = JsonOutput.Round(longRecompute, 2),
                    ["ttft_cached_ms"] = JsonOutput.Round(longCached, 2),
                    ["speedup"] = JsonOutput.Round(speedup, 2),
                    ["long_prefix_turns"] = longTurns,
                    ["long_prefix_tokens"] = EngineDemoCommand.LongPrefixTokens,
                    ["prefill_saved_fraction"] = JsonOutput.Round(savedFraction, 4),
                    ["identical_outputs"] = identical,
                    ["max_logit_diff_vs_llama_cache"] = maxDiffCache,
                    ["max_logit_diff_vs_recompute"] = maxDiffRecompute,
                    ["restore_gbs"] = JsonOutput.Round(restoreGbs, 3),
                    ["memcpy_gbs"] = JsonOutput.Round(memcpyGbs, 3),
                    ["restore_cpu_gbs"] = JsonOutput.Round(restoreCpuGbs, 3),
                    ["memcpy_cpu_gbs"] = JsonOutput.Round(memcpyCpuGbs, 3),
                    ["restore_phases_ms"] = new JsonObject
                    {
                        ["lookup_fetch"] = JsonOutput.Round(phases[0] * 1000, 3),
                        ["assemble"] = JsonOutput.Round(phases[1] * 1000, 3),
                        ["llama_state_seq_set_data"] = JsonOutput.Round(phases[2] * 1000, 3),
                        ["llama_memory_seq_cp"] = JsonOutput.Round(phases[3] * 1000, 3),
                    },
                    ["restore_group_bytes"] = conn.ScratchSequence is null ? 0 : conn.RestoreGroupBytes,
                    ["restored_bytes"] = restoreBytes,
                    ["served_tokens"] = TierCounts.ToJson(servedTotal),
                    ["failed_restores"] = conn.FailedRestores,
                    ["seconds"] = JsonOutput.Round(wall.Elapsed.TotalSeconds, 1),
                },
            });
            return ok ? 0 : 1;
        }

        var table = new Table().Border(TableBorder.Rounded).Title("llama.cpp: time to first token, recompute vs TierKV");
        foreach (string col in (string[])["user", "turn", "prompt", "restored", "computed", "recompute ms", "TierKV ms", "speedup", "served by", "diff vs llama cache", "same reply"])
        {
            table.AddColumn(new TableColumn(col).RightAligned());
        }

        foreach (var r in records)
        {
            string served = r.Served.Count == 0 ? "-" : string.Join(", ", r.Served.Select(kv => $"{kv.Key} {kv.Value}"));
            table.AddRow(
                r.User.ToString(), r.Turn.ToString(), r.PromptTokens.ToString(), r.RestoredTokens.ToString(),
                (r.PromptTokens - r.RestoredTokens).ToString(), r.RecomputeMs.ToString("F0"), r.CachedMs.ToString("F1"),
                (r.RecomputeMs / r.CachedMs).ToString("F1") + "x", served, r.DiffVsLlamaCache.ToString("G3"), r.Identical ? "yes" : "no");
        }

        var output = AnsiConsole.Console;
        output.Write(table);
        output.MarkupLine($"Turns with a restored prefix of {EngineDemoCommand.LongPrefixTokens}+ tokens: [bold]{longTurns}[/]; summed TTFT {longRecompute:F0} ms llama.cpp recomputing vs {longCached:F0} ms with TierKV: [bold green]{speedup:F1}x[/].");
        output.MarkupLine($"Prefill saved: [bold]{savedFraction:P1}[/] of all prompt tokens. Served: {string.Join(", ", servedTotal.Select(kv => $"{kv.Key} {kv.Value} tokens"))}.");
        output.MarkupLine($"Restore (lookup, fetch, assemble, llama_state_seq_set_data): [bold]{restoreGbs:F2} GB/s[/] against memcpy {memcpyGbs:F2} GB/s; per thread CPU second {restoreCpuGbs:F2} against {memcpyCpuGbs:F2} GB/s.");
        output.MarkupLine($"Largest logit difference vs llama.cpp's own cache: [bold]{maxDiffCache}[/] (bit-identical when 0); vs full recompute {maxDiffRecompute}; identical replies: {(identical ? "yes" : "no")}. Run took {wall.Elapsed.TotalSeconds:F0} s.");
        return ok ? 0 : 1;
    }

    private static string KvName(TierKv.Keys.KvLayout layout) => TierKv.Keys.KvElementTypes.ShortName(layout.ElementType);

    /// <summary>One untimed prefill, save and restore, so the timed turns measure the data path, not the JIT.</summary>
    private static void WarmUp(LlamaDecoder decoder, LlamaKvConnector conn, LlamaChatText chat, int vocab)
    {
        var tokens = chat.Tokens("Warm-up", 2 * 256 + 8);
        var logits = new float[vocab];
        decoder.Truncate(Seq);
        long t0 = Stopwatch.GetTimestamp();
        decoder.Decode(Seq, tokens, 0, logits);
        conn.Planner.ObservePrefill(tokens.Length, 0, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        conn.SaveAsync(Seq, tokens).GetAwaiter().GetResult();
        conn.Restore(Seq, tokens);
        decoder.Truncate(Seq);
        var keys = TierKv.Keys.PrefixHasher.ComputeKeys(conn.Layout!, TierKv.Keys.TenantSalt.None, tokens);
        conn.Store.DrainAsync().GetAwaiter().GetResult();
        foreach (var k in keys)
        {
            conn.Store.RemoveAsync(k).AsTask().GetAwaiter().GetResult();
        }
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        double d = 0;
        for (int i = 0; i < a.Length; i++)
        {
            d = Math.Max(d, Math.Abs((double)a[i] - b[i]));
        }

        return d;
    }

    /// <summary>
    /// Single-threaded memcpy of the restored bytes between two pre-touched native regions, each call on the next of
    /// four windows of a ring larger than the last-level cache, so the source is as cold as a restore's chunks are
    /// (as <c>tierkv bench dram</c>'s baseline): what a restore would cost if it were a single copy.
    /// </summary>
    private sealed unsafe class MemcpyBaseline : IDisposable
    {
        private const int Windows = 4;
        private byte* _src;
        private byte* _dst;
        private long _window;
        private int _next;

        /// <summary>Copies <paramref name="bytes"/>; returns the wall seconds, and the thread's CPU seconds in <paramref name="cpuSeconds"/>.</summary>
        public double Copy(long bytes, out double cpuSeconds)
        {
            if (bytes > _window)
            {
                Dispose();
                _window = bytes;
                _src = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(bytes * Windows), 4096);
                _dst = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(bytes * Windows), 4096);
                for (int w = 0; w < Windows; w++)
                {
                    new Span<byte>(_src + (w * bytes), checked((int)bytes)).Fill(1);
                    new Span<byte>(_dst + (w * bytes), checked((int)bytes)).Fill(2);
                }
            }

            long offset = (_next++ % Windows) * _window;
            long t0 = Stopwatch.GetTimestamp();
            double? cpu0 = ThreadCpuClock.Now();
            Buffer.MemoryCopy(_src + offset, _dst + offset, bytes, bytes);
            cpuSeconds = ThreadCpuClock.Now() - cpu0 ?? 0;
            return Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }

        public void Dispose()
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(_src);
            System.Runtime.InteropServices.NativeMemory.AlignedFree(_dst);
            _src = _dst = null;
            _window = 0;
        }
    }

    /// <summary>Deterministic chat text, tokenized by the model's own tokenizer.</summary>
    private sealed class LlamaChatText(LLamaContext context, int seed)
    {
        private readonly Random _random = new(seed);

        public int[] Encode(string text) => [.. context.Tokenize(text, false, true).Select(t => (int)t)];

        public string Decode(IReadOnlyList<int> tokens)
        {
            var decoder = new StreamingTokenDecoder(context);
            foreach (int t in tokens)
            {
                decoder.Add(t);
            }

            return decoder.Read();
        }

        /// <summary>Exactly <paramref name="tokens"/> tokens: a role header and English words.</summary>
        public int[] Tokens(string role, int tokens)
        {
            var header = Encode($"\n{role}: ");
            var sb = new StringBuilder();
            var words = LlamaModelMaker.Words;
            while (sb.Length < tokens * 4)
            {
                int len = _random.Next(6, 16);
                for (int i = 0; i < len; i++)
                {
                    string w = words[_random.Next(words.Count)];
                    sb.Append(i == 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w).Append(i == len - 1 ? ". " : " ");
                }
            }

            var body = Encode(sb.ToString());
            int take = Math.Max(0, Math.Min(body.Length, tokens - header.Length));
            return [.. header, .. body.AsSpan(0, take)];
        }
    }
}
