using System.Diagnostics;
using System.Globalization;

namespace TierKv.Server.Tests;

/// <summary>
/// Every command refuses bad input with one line on standard error that names the flag, and exit code 1 or 2:
/// no stack trace, no crash, and no server that starts while ignoring what it was told.
/// </summary>
public sealed class BadInputTests : IClassFixture<BadInputTests.Files>
{
    private static readonly string Dir = Path.Combine(Path.GetTempPath(), $"tierkv-badinput-{Environment.ProcessId}");
    private static readonly string Binary = Path.Combine(Dir, "binary");
    private static readonly string Tiny = Path.Combine(Dir, "tiny.jsonl");

    /// <summary>The command line, and what the one line must contain (the flag, or the file).</summary>
    public static TheoryData<string[], string> Cases() => new()
    {
        // serve: each of these starts a server today that ignores the flag, or crashes.
        { ["serve", "--dta", Path.Combine(Dir, "x"), "--port", "0", "--metrics-port", "-1"], "--dta" },
        { ["serve", "--config", Binary, "--port", "0", "--metrics-port", "-1"], Binary },
        { ["serve", "--tls-cert", Binary, "--port", "0", "--metrics-port", "-1"], Binary },
        { ["serve", "--dram", "100t", "--port", "0", "--metrics-port", "-1"], "--dram" },
        { ["serve", "--dram", "lots", "--port", "0", "--metrics-port", "-1"], "--dram" },
        { ["serve", "--metrics-port", "-2", "--port", "0"], "--metrics-port" },
        { ["serve", "--log-format", "xml", "--port", "0", "--metrics-port", "-1"], "--log-format" },
        { ["serve", "--port", "abc", "--metrics-port", "-1"], "--port" },
        { ["serve", "--port", "70000", "--metrics-port", "-1"], "--port" },
        { ["serve", "--metrics-port", "-1", "--port"], "--port" },
        { ["serve", "--max-clients", "0", "--port", "0", "--metrics-port", "-1"], "--max-clients" },
        { ["top", "--port", "1"], "--port" },
        { ["top", "--interval", "soon"], "--interval" },
        { ["top", "--prot", "6380"], "--prot" },
        { ["analyze", Tiny, "--capacities", "2147483647"], "--capacities" },
        { ["analyze", Tiny, "--capacities", "many"], "--capacities" },
        { ["analyze", Tiny, "--polices", "lru"], "--polices" },
        { ["replay", Tiny, "--dram-blocks", "100000000"], "--dram-blocks" },
        { ["replay", Tiny, "--dram-blocks", "many"], "--dram-blocks" },
        { ["replay", Tiny, "--chunk-bytes", "1000"], "--chunk-bytes" },
        { ["replay", Tiny, "--sped", "2"], "--sped" },
        { ["replay-tenants", Tiny, "--scan-blocks", "4", "--chunk-bytes", "1000"], "--chunk-bytes" },
        { ["replay-tenants", Tiny, "--scan-blocks", "4", "--dram-blocks", "1"], "--dram-blocks" },
        { ["demo", "--users", "many"], "--users" },
        { ["demo", "--userz", "2"], "--userz" },
        { ["demo", "--dram-mib", "100000000"], "--dram-mib" },
        { ["demo-synthetic", "--turns", "many"], "--turns" },
        { ["demo-synthetic", "--turnz", "2"], "--turnz" },
        { ["demo-synthetic", "--dram-mib", "100000000"], "--dram-mib" },
        { ["bench", "dram", "--chunks", "many"], "--chunks" },
        { ["bench", "dram", "--chnks", "1"], "--chnks" },
        { ["bench", "ssd", "--dir", Dir, "--qd", "deep"], "--qd" },
        { ["bench", "ssd", "--dri", Dir], "--dri" },
        { ["bench", "server", "--value-bytes", "100t"], "--value-bytes" },
        { ["bench", "server", "--ops", "many"], "--ops" },
        { ["bench", "server", "--opz", "1"], "--opz" },
        { ["bench", "remote", "--endpoints", "127.0.0.1:1", "--chunks", "many"], "--chunks" },
        { ["bench", "remote", "--endpoint", "127.0.0.1:1"], "--endpoint" },
        { ["bench", "matmul", "--rows", "many"], "--rows" },
        { ["bench", "matmul", "--rowz", "1"], "--rowz" },
        { ["bench", "gpu", "--tokens", "many"], "--tokens" },
        { ["bench", "gpu", "--tokenz", "1"], "--tokenz" },
        { ["keys", "--tokens-per-chunk", "many", "--vectors"], "--tokens-per-chunk" },
        { ["keys", "--vector"], "--vector" },
        { ["probe", "--prefill-ms-per-token", "fast"], "--prefill-ms-per-token" },
        { ["probe", "--quik"], "--quik" },
        { ["generate", "--model", "small", "--prompt", "hi", "--max-tokens", "many"], "--max-tokens" },
        { ["generate", "--model", "small", "--promt", "hi"], "--promt" },
        { ["generate", "--model", "small", "--prompt", "hi", "--dram-mib", "100000000"], "--dram-mib" },
        { ["generate", "--model", "small", "--prompt", "hi", "--top-p", "7"], "--top-p" },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_gets_one_line_naming_the_flag_and_exit_code_1_or_2(string[] args, string named)
    {
        string? cli = CliProcess.Find();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);

        var sw = Stopwatch.StartNew();
        var (code, _, stderr) = await CliProcess.RunAsync(cli, args, timeoutSeconds: 20);

        string what = $"tierkv {string.Join(' ', args)} -> exit {code}: {stderr}";
        Assert.True(code is 1 or 2, what);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("tierkv: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
        // Refused at once, not after starting work (a second run of dotnet on a busy machine takes a few seconds).
        Assert.True(sw.Elapsed.TotalSeconds < 15, $"{what} took {sw.Elapsed.TotalSeconds:F1} s");
    }

    [SkippableFact]
    public async Task A_second_serve_on_a_busy_port_exits_with_an_error_instead_of_sharing_it()
    {
        string? cli = CliProcess.Find();
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "the tierkv CLI is not built (dotnet build src/TierKv.Cli); CI builds the solution");
        Assert.NotNull(cli);
        using var first = await ServeProcess.StartAsync(cli);

        string port = first.Port.ToString(CultureInfo.InvariantCulture);
        var (code, _, stderr) = await CliProcess.RunAsync(cli, ["serve", "--port", port, "--metrics-port", "-1", "--dram", "64m", "--slot-bytes", "1m"], timeoutSeconds: 30);

        Assert.True(code == 1, $"second serve exited with {code}: {stderr}");
        Assert.Contains($"127.0.0.1:{port}", stderr, StringComparison.Ordinal);
        Assert.Contains("in use", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.False(first.Process.HasExited, "the first server stopped");
    }

    /// <summary>The files the cases name: random bytes where a JSON or certificate file belongs, and a one-line trace.</summary>
    public sealed class Files : IDisposable
    {
        public Files()
        {
            Directory.CreateDirectory(Dir);
            var bytes = new byte[4096];
            new Random(7).NextBytes(bytes);
            File.WriteAllBytes(Binary, bytes);
            File.WriteAllText(Tiny, """{"timestamp": 0, "input_length": 1024, "output_length": 1, "hash_ids": [1, 2]}""" + "\n");
        }

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }
}
