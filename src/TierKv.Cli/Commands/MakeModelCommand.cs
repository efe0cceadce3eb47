using TierKv.LlamaSharp.Model;

namespace TierKv.Cli.Commands;

/// <summary><c>tierkv make-model</c>: a Llama GGUF with deterministic random weights and a real BPE vocabulary, for llama.cpp.</summary>
internal sealed class MakeModelCommand : Command<MakeModelCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--out <FILE>")]
        [Description("The GGUF file to write.")]
        public string Out { get; init; } = "";

        [CommandOption("--shape")]
        [Description("Model shape: tiny (tests), small (the llama.cpp demo: 16 KiB of KV a token), narrow (2 KiB a token) or a spec such as layers=8,heads=4,kv_heads=4 (other fields small's).")]
        [DefaultValue("small")]
        public string Shape { get; init; } = "small";

        [CommandOption("--f32")]
        [Description("Store matrices as F32 (default F16).")]
        public bool F32 { get; init; }

        [CommandOption("--seed")]
        [Description("Seed of the weights.")]
        [DefaultValue(0x71574B56UL)]
        public ulong Seed { get; init; } = 0x71574B56UL;

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("--out FILE is required.") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shape = LlamaModelShape.Named(settings.Shape);
        LlamaModelMaker.Write(settings.Out, shape, !settings.F32, settings.Seed);
        var file = LlamaModelFile.Open(settings.Out, null);
        AnsiConsole.MarkupLineInterpolated(
            $"Wrote [bold]{Path.GetFullPath(settings.Out)}[/]: {shape.Name}, {shape.Parameters / 1e6:F1}M parameters, {shape.Layers} layers, hidden {shape.Hidden}, {shape.Heads} heads and {shape.KvHeads} KV heads of {shape.HeadDim} ({shape.Layers * 2 * shape.KvDim * 2 / 1024.0:F1} KiB of f16 KV a token), vocabulary {shape.VocabSize} (byte-level BPE), {(settings.F32 ? "F32" : "F16")}; fingerprint {file.Fingerprint:x32}.");
        return 0;
    }
}
