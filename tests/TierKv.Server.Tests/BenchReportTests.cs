using System.Text.Json.Nodes;

namespace TierKv.Server.Tests;

/// <summary>
/// A bench reports each figure against its baseline as three JSON fields (scripts and checks read them by name): the
/// median GB/s of the figure, that of the baseline, and the ratio of the two medians.
/// </summary>
public sealed class BenchReportTests
{
    [SkippableFact]
    public async Task Bench_dram_reports_put_and_get_against_memcpy_with_the_ratio_of_the_medians()
    {
        string? cli = CliProcess.Find();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);

        var (code, stdout, stderr) = await CliProcess.RunAsync(cli, ["bench", "dram", "--json", "--model", "llama3.2-1b", "--chunks", "2", "--reps", "2", "--lookups", "100"]);

        Assert.True(code == 0, $"bench dram exited with {code}: {stderr}");
        var fields = JsonNode.Parse(stdout)!.AsObject();
        double memcpy = fields["memcpy_gbs"]!.GetValue<double>();
        Assert.True(memcpy > 0, stdout);
        foreach (string op in new[] { "put", "get" })
        {
            double gbs = fields[$"{op}_gbs"]!.GetValue<double>();
            double ratio = fields[$"{op}_vs_memcpy"]!.GetValue<double>();
            Assert.True(gbs > 0, stdout);

            // The ratio is of the unrounded medians; the fields are rounded to three decimals.
            Assert.InRange(ratio, (gbs - 0.0005) / (memcpy + 0.0005) - 0.0005, (gbs + 0.0005) / (memcpy - 0.0005) + 0.0005);
        }
    }
}
