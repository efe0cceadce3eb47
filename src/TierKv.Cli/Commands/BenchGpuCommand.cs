using System.ComponentModel;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;
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
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model")]
        [Description("Model shape (llama3.2-1b, llama3-8b, llama3-70b).")]
        [DefaultValue("llama3-8b")]
        public string Model { get; init; } = "llama3-8b";

        [CommandOption("--tokens")]
        [Description("Tokens of the request moved per repetition (whole 256-token chunks).")]
        [DefaultValue(16384)]
        public int Tokens { get; init; } = 16384;

        [CommandOption("--block-size")]
        [Description("Tokens per engine page: 16 or 32.")]
        [DefaultValue(16)]
        public int BlockSize { get; init; } = 16;

        [CommandOption("--reps")]
        [Description("Timed repetitions; medians are reported.")]
        [DefaultValue(7)]
        public int Reps { get; init; } = 7;

        [CommandOption("--device")]
        [Description("GPU ordinal.")]
        [DefaultValue(0)]
        public int Device { get; init; }

        [CommandOption("--json")]
        [Description("Print the result as JSON on standard output.")]
        public bool Json { get; init; }

        public override ValidationResult Validate()
        {
            if (BlockSize is not (16 or 32))
            {
                return ValidationResult.Error("--block-size must be 16 or 32.");
            }

            if (Tokens < 256 || Tokens > 1 << 20)
            {
                return ValidationResult.Error("--tokens must be in [256, 1048576].");
            }

            return Reps is < 1 or > 1000 ? ValidationResult.Error("--reps must be in [1, 1000].") : ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new GpuBenchOptions { Model = settings.Model, Tokens = settings.Tokens, BlockSize = settings.BlockSize, Reps = settings.Reps, Device = settings.Device };
        var log = settings.Json ? null : AnsiConsole.Console;
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

        if (settings.Json)
        {
            JsonOutput.Write(result);
            return 0;
        }

        string F(string name) => Convert.ToString(result[name], CultureInfo.InvariantCulture) ?? "";
        var table = new Table().AddColumns("measure", "TierKV", "ceiling", "ratio");
        table.AddRow("load (H2D + scatter)", $"{F("load_gbs")} GB/s", $"{F("ceiling_h2d_gbs")} GB/s", F("load_vs_ceiling"));
        table.AddRow("store (gather + D2H)", $"{F("store_gbs")} GB/s", $"{F("ceiling_d2h_gbs")} GB/s", F("store_vs_ceiling"));
        table.AddRow("first layer ready", $"{F("load_first_layer_ms")} ms", "", "");
        table.AddRow("per layer (load / store, p50)", $"{F("load_layer_p50_ms")} / {F("store_layer_p50_ms")} ms", "", "");
        table.AddRow("naive (cuMemcpy per page)", $"{F("naive_load_gbs")} GB/s", $"{F("ceiling_h2d_gbs")} GB/s", "");
        AnsiConsole.Write(table);
        return 0;
    }
}
