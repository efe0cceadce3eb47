using TierKv.Cli.Commands.Probe;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv probe</c>: measures each medium present (DRAM, the GPU link when a GPU is present, SSD, the remote tier
/// when <c>--remote</c> names one) and prints throughput and access latency side by side, then, for a model shape,
/// which media load a cached prefix faster than recomputing it. A medium expected but absent (no GPU, a cluster that
/// does not answer) gets a line saying why and takes no part in the verdicts.
/// </summary>
internal sealed class ProbeCommand : Command<ProbeCommand.Settings>
{
    private static readonly int[] PrefixTokens = [1024, 4096, 16384, 32768];

    public sealed class Settings : ModelSettings
    {
        [CommandOption("--prefill-ms-per-token")]
        [Description("Measured recompute (prefill) cost; default: the shape's H200 figure from ARCHITECTURE.md.")]
        public double? PrefillMsPerToken { get; init; }

        [CommandOption("--dir")]
        [Description("Scratch directory on the SSD to measure (files are removed afterwards).")]
        [DefaultValue("/var/tmp")]
        public string Dir { get; init; } = "/var/tmp";

        [CommandOption("--remote <ENDPOINTS>")]
        [Description("Remote tier to measure too: Redis/Valkey/Garnet HOST:PORT[[,HOST:PORT...]] (its keys are removed afterwards).")]
        public string? Remote { get; init; }

        [CommandOption("--quick")]
        [Description("Smaller volumes: a rough figure in a second or two.")]
        public bool Quick { get; init; }

        public override ValidationResult Validate()
        {
            if (PrefillMsPerToken is <= 0)
            {
                return ValidationResult.Error("--prefill-ms-per-token must be positive.");
            }

            if (Remote is null)
            {
                return ValidationResult.Success();
            }

            foreach (string endpoint in Remote.Split(',', StringSplitOptions.TrimEntries))
            {
                int colon = endpoint.LastIndexOf(':');
                if (colon <= 0 || !ushort.TryParse(endpoint.AsSpan(colon + 1), out ushort port) || port == 0)
                {
                    return ValidationResult.Error($"--remote: '{endpoint}' is not HOST:PORT (expected HOST:PORT[,HOST:PORT...]).");
                }
            }

            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shape = settings.Shape();
        double prefill = settings.PrefillMsPerToken ?? shape.PrefillMsPerToken;
        Action<string>? log = settings.Json ? null : m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]");
        var ctx = new ProbeContext(settings.Dir, settings.Quick, log, shape.Layout, settings.Remote);
        var measured = new List<ProbeMeasurement>();
        foreach (var medium in ProbeMedia.All)
        {
            log?.Invoke($"measuring {medium.Name} ...");
            if (medium.Measure(ctx) is { } m)
            {
                measured.Add(m);
            }
        }

        var media = new JsonArray();
        foreach (var m in measured)
        {
            if (m.Unavailable)
            {
                media.Add(new JsonObject { ["medium"] = m.Medium, ["available"] = false, ["reason"] = m.Detail });
                continue;
            }

            media.Add(new JsonObject
            {
                ["medium"] = m.Medium,
                ["available"] = true,
                ["read_gbs"] = JsonOutput.Round(m.ReadGbs),
                ["write_gbs"] = JsonOutput.Round(m.WriteGbs),
                ["latency_us"] = JsonOutput.Round(m.LatencyUs, 3),
                ["detail"] = m.Detail,
            });
        }

        var prefixes = new JsonArray();
        var fasterAt16k = new JsonArray();
        foreach (int tokens in PrefixTokens)
        {
            long bytes = (long)tokens * shape.Layout.BytesPerToken;
            double recompute = tokens * prefill;
            var load = new JsonObject();
            var faster = new JsonArray();
            foreach (var m in measured.Where(m => !m.Unavailable))
            {
                double ms = LoadMs(m, bytes);
                load[m.Medium] = JsonOutput.Round(ms, 2);
                if (ms < recompute)
                {
                    faster.Add(m.Medium);
                    if (tokens == 16384)
                    {
                        fasterAt16k.Add(m.Medium);
                    }
                }
            }

            prefixes.Add(new JsonObject
            {
                ["tokens"] = tokens,
                ["bytes"] = bytes,
                ["recompute_ms"] = JsonOutput.Round(recompute, 2),
                ["load_ms"] = load,
                ["faster_than_recompute"] = faster,
            });
        }

        var report = new CommandReport(new JsonObject
        {
            ["probe"] = "tiers",
            ["model"] = shape.Name,
            ["prefill_ms_per_token"] = JsonOutput.Round(prefill, 5),
            ["prefill_source"] = settings.PrefillMsPerToken is null ? "ARCHITECTURE.md (H200, bf16)" : "--prefill-ms-per-token",
            ["media"] = media,
            ["prefixes"] = prefixes,
            ["faster_than_recompute_at_16k"] = fasterAt16k,
        }).Table("medium", "read GB/s", "write GB/s", "latency", "how");
        foreach (var m in measured)
        {
            if (m.Unavailable)
            {
                report.Row(m.Medium, "-", "-", "-", Markup.Escape(m.Detail));
                continue;
            }

            report.Row(m.Medium, $"{m.ReadGbs:F2}", $"{m.WriteGbs:F2}", m.LatencyUs < 1 ? $"{m.LatencyUs * 1000:F0} ns" : $"{m.LatencyUs:F1} us", Markup.Escape(m.Detail));
        }

        var p = new Table().AddColumn("prefix").AddColumn("KV").AddColumn("recompute");
        var present = measured.Where(m => !m.Unavailable).ToList();
        foreach (var m in present)
        {
            p.AddColumn($"load from {m.Medium}");
        }

        report.Line($"{shape.Name}: load (green) beats recompute at {prefill * 1000:F1} us/token ({report["prefill_source"]}):").Table(p);
        foreach (int tokens in PrefixTokens)
        {
            long bytes = (long)tokens * shape.Layout.BytesPerToken;
            double recompute = tokens * prefill;
            var row = new List<string> { $"{tokens} tokens", $"{bytes >> 20} MiB", $"{recompute:F1} ms" };
            foreach (var m in present)
            {
                double ms = LoadMs(m, bytes);
                row.Add(ms < recompute ? $"[green]{ms:F1} ms[/]" : $"[red]{ms:F1} ms[/]");
            }

            report.Row([.. row]);
        }

        return report.Write(settings.Json);
    }

    /// <summary>Time to bring a prefix's KV from a medium: one access latency plus the bytes at its read speed.</summary>
    private static double LoadMs(ProbeMeasurement m, long bytes) => (m.LatencyUs / 1000) + (m.ReadGbs > 0 ? bytes / (m.ReadGbs * 1e9) * 1000 : double.PositiveInfinity);
}
