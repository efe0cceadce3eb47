using TierKv.Cuda;
using TierKv.Cuda.Bench;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv bench gpu</c>: the PCIe ceilings (large pinned copies each way) and TierKV's load (chunks into paged GPU
/// memory, scatter included) and store (gather included) for a model layout with a random page table, plus per-layer
/// latency, all in one run. Without a GPU it exits non-zero with one line saying what is missing.
/// </summary>
internal sealed class BenchGpuCommand : Command<BenchGpuCommand.Settings>
{
    public sealed class Settings : BenchSettings
    {
        [CommandOption("--tokens")]
        [Description("Tokens of the request moved per repetition (whole 256-token chunks).")]
        [DefaultValue(16384)]
        public int Tokens { get; init; } = 16384;

        [CommandOption("--block-size")]
        [Description("Tokens per engine page: 16 or 32.")]
        [DefaultValue(16)]
        public int BlockSize { get; init; } = 16;

        [CommandOption("--device")]
        [Description("GPU ordinal.")]
        [DefaultValue(0)]
        public int Device { get; init; }

        public override ValidationResult Validate() => SettingsRules.Check(
            (BlockSize is not (16 or 32), "--block-size must be 16 or 32."),
            (Tokens < 256 || Tokens > 1 << 20, "--tokens must be in [256, 1048576]."),
            RepsRule(1000));
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new GpuBenchOptions { Model = settings.Model, Tokens = settings.Tokens, BlockSize = settings.BlockSize, Reps = settings.Reps, Device = settings.Device };
        var log = settings.ProgressConsole();
        JsonObject result;
        try
        {
            result = GpuTransferBench.Run(options, log is null ? null : line => log.MarkupLine($"[grey]{Markup.Escape(line)}[/]"));
        }
        catch (GpuUnavailableException ex)
        {
            Console.Error.WriteLine($"tierkv bench gpu: no CUDA GPU here: {ex.Message}");
            return 3;
        }

        var report = new CommandReport(result);
        return report.Table("measure", "TierKV", "ceiling", "ratio")
            .Row("load (H2D + scatter)", $"{report["load_gbs"]} GB/s", $"{report["ceiling_h2d_gbs"]} GB/s", report["load_vs_ceiling"])
            .Row("store (gather + D2H)", $"{report["store_gbs"]} GB/s", $"{report["ceiling_d2h_gbs"]} GB/s", report["store_vs_ceiling"])
            .Row("first layer ready", $"{report["load_first_layer_ms"]} ms", "", "")
            .Row("per layer (load / store, p50)", $"{report["load_layer_p50_ms"]} / {report["store_layer_p50_ms"]} ms", "", "")
            .Row("naive (cuMemcpy per page)", $"{report["naive_load_gbs"]} GB/s", $"{report["ceiling_h2d_gbs"]} GB/s", "")
            .Write(settings.Json);
    }
}