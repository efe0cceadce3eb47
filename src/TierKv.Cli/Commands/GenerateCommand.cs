using TierKv.Engine.Cache;
using TierKv.Engine.Connector;
using TierKv.Engine.Loading;
using TierKv.Engine.Math;
using TierKv.Engine.Model;
using TierKv.Engine.Serving;
using TierKv.Engine.Text;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv generate --model PATH --prompt TEXT</c>: runs a real model file (GGUF, or safetensors with its
/// config.json) — or a synthetic shape named <c>tiny</c>/<c>small</c> — with TierKV's DRAM and SSD tiers in a data
/// folder. The SSD tier persists, so running the same prompt again (even in a new process) loads its prefix.
/// </summary>
internal sealed class GenerateCommand : AsyncCommand<GenerateCommand.Settings>
{
    public sealed class Settings : JsonSettings
    {
        [CommandOption("--model")]
        [Description("A .gguf file, a .safetensors file or folder with config.json, or a synthetic shape: tiny, small.")]
        public string Model { get; init; } = "";

        [CommandOption("--prompt")]
        [Description("Prompt text.")]
        public string Prompt { get; init; } = "";

        [CommandOption("--tokenizer")]
        [Description("Tokenizer file or folder (default: next to the model; cl100k_base for synthetic shapes).")]
        public string? Tokenizer { get; init; }

        [CommandOption("--max-tokens")]
        [Description("Tokens to generate.")]
        [DefaultValue(32)]
        public int MaxTokens { get; init; } = 32;

        [CommandOption("--temperature")]
        [Description("0 for greedy decoding, else the sampling temperature.")]
        [DefaultValue(0f)]
        public float Temperature { get; init; }

        [CommandOption("--top-k")]
        [Description("Sample among the k most likely tokens (0: all).")]
        [DefaultValue(0)]
        public int TopK { get; init; }

        [CommandOption("--top-p")]
        [Description("Sample among the most likely tokens whose probability reaches p.")]
        [DefaultValue(1f)]
        public float TopP { get; init; } = 1f;

        [CommandOption("--seed")]
        [Description("Sampling seed.")]
        [DefaultValue(0)]
        public int Seed { get; init; }

        [CommandOption("--data")]
        [Description("Data folder of the SSD tier (kept between runs).")]
        public string? Data { get; init; }

        [CommandOption("--dram-mib")]
        [Description("DRAM tier capacity in MiB.")]
        [DefaultValue(1024)]
        public int DramMiB { get; init; } = 1024;

        [CommandOption("--ssd-mib")]
        [Description("SSD tier capacity in MiB (0: DRAM only).")]
        [DefaultValue(4096)]
        public int SsdMiB { get; init; } = 4096;

        [CommandOption("--no-cache")]
        [Description("Run without TierKV (plain recompute).")]
        public bool NoCache { get; init; }

        public override ValidationResult Validate() =>
            SettingsRules.FirstFailure(
                (string.IsNullOrWhiteSpace(Model) || string.IsNullOrEmpty(Prompt), "--model and --prompt are required."),
                (MaxTokens is < 1 or > 4096, $"--max-tokens must be in [1, 4096]; got {MaxTokens}."),
                (!float.IsFinite(Temperature) || Temperature < 0 || TopK < 0 || !(TopP is > 0 and <= 1), $"--temperature must be 0 (greedy) or more, --top-k 0 (off) or more, and --top-p in (0, 1]; got {Temperature}, {TopK}, {TopP}."),
                (DramMiB < 1 || SsdMiB < 0, "--dram-mib must be at least 1 and --ssd-mib 0 or more."))
            ?? ByteSizes.FitsMemory((long)DramMiB << 20, $"--dram-mib {DramMiB}");
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var err = ErrorConsole.Create();
        long t0 = Stopwatch.GetTimestamp();
        bool synthetic = settings.Model is "tiny" or "small";
        ModelWeights weights;
        if (synthetic)
        {
            var cfg = ModelConfig.Named(settings.Model);
            weights = ModelWeights.Load(cfg, new SyntheticWeights(cfg));
        }
        else if (File.Exists(settings.Model) || Directory.Exists(settings.Model))
        {
            weights = ModelFiles.Load(settings.Model);
        }
        else
        {
            throw new FileNotFoundException($"No model at '{settings.Model}': pass a .gguf file, a safetensors file or folder with config.json, or tiny/small.");
        }

        using var model = new Transformer(weights);
        var config = model.Config;
        var tokenizer = settings.Tokenizer is { } tp
            ? TextTokenizer.FromModelPath(tp) ?? throw new FileNotFoundException($"No tokenizer file found at '{tp}'.")
            : synthetic ? TextTokenizer.Cl100k() : TextTokenizer.FromModelPath(settings.Model)
                ?? throw new FileNotFoundException($"No tokenizer next to '{settings.Model}' (tokenizer.model, tokenizer.json, vocab.json + merges.txt or *.tiktoken): pass --tokenizer.");
        err.MarkupLineInterpolated($"[grey]{config.Name}: {config.Parameters / 1e6:F0}M parameters, {config.Layers} layers; tokenizer {tokenizer.Description}; loaded in {Stopwatch.GetElapsedTime(t0).TotalSeconds:F1} s[/]");

        int[] prompt = tokenizer.Encode(settings.Prompt);
        if (prompt.Length == 0)
        {
            throw new ArgumentException("The prompt encodes to no tokens.");
        }

        string data = EngineTiers.DataFolder(settings.Data, "tierkv-generate");
        using var pool = model.CreatePagePool(prompt.Length + settings.MaxTokens + 16);
        using var store = settings.NoCache ? null
            : EngineTiers.Open(data, System.Math.Max((long)settings.DramMiB << 20, model.Layout.ChunkBytes * 2L), (long)settings.SsdMiB << 20, model.Layout.ChunkBytes, err);
        var connector = store is null ? null : new KvConnector(store, model.Layout);
        var engine = new CachedEngine(model, connector);
        if (store is not null)
        {
            await EngineTiers.CalibrateAsync(store, model.Layout, engine.Planner, null, cancellationToken).ConfigureAwait(false);
        }

        var logits = new float[config.VocabSize];
        using var seq = new KvSequence(pool);
        var prefill = engine.Prefill(seq, prompt, logits);
        await prefill.Saves.ConfigureAwait(false);
        long d0 = Stopwatch.GetTimestamp();
        var output = engine.Decode(seq, logits, settings.MaxTokens, new TokenSampler(settings.Temperature, settings.TopK, settings.TopP, settings.Seed));
        double decodeSeconds = Stopwatch.GetElapsedTime(d0).TotalSeconds;
        if (connector is not null)
        {
            await connector.SaveSequenceAsync(seq, prompt.Concat(output).ToArray(), cancellationToken).ConfigureAwait(false);
        }

        string text = tokenizer.Decode(output);
        int exitCode = new CommandReport(new JsonObject
        {
            ["model"] = config.Name,
            ["prompt_tokens"] = prompt.Length,
            ["cached_prefix_tokens"] = prefill.LoadedTokens,
            ["hit_tokens"] = prefill.HitTokens,
            ["served_tokens"] = TierCounts.ToJson(prefill.ServedTokens),
            ["ttft_ms"] = JsonOutput.Round(prefill.Seconds * 1000, 2),
            ["generated_tokens"] = output.Count,
            ["decode_tokens_per_second"] = JsonOutput.Round(output.Count / System.Math.Max(decodeSeconds, 1e-9), 2),
            ["threads"] = EngineThreads.Count,
            ["text"] = text,
        }).Text(text).Write(settings.Json);
        if (!settings.Json)
        {
            err.Grey($"prompt {prompt.Length} tokens, {prefill.LoadedTokens} loaded from TierKV ({TierCounts.Describe(prefill.ServedTokens, none: "")}); time to first token {prefill.Seconds * 1000:F0} ms; {output.Count} tokens at {output.Count / System.Math.Max(decodeSeconds, 1e-9):F1} tokens/s; data in {data}");
        }

        return exitCode;
    }
}
