using Spectre.Console.Cli;
using TierKv.Cli.Commands;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("tierkv");
    config.PropagateExceptions();
    config.AddCommand<DemoCommand>("demo").WithDescription("Multi-turn chat workload over the tiered store: hit tokens per turn and tier.");
    config.AddBranch("bench", bench =>
    {
        bench.SetDescription("Benchmarks, each against a baseline measured in the same run.");
        bench.AddCommand<BenchDramCommand>("dram").WithDescription("DRAM tier: store/retrieve against memcpy, lookup latency, key hashing.");
        // bench commands of other components register here.
    });
    config.AddCommand<KeysCommand>("keys").WithDescription("Chunk keys of a token sequence, or the hashing spec's test vectors.");
    // other top-level commands register here.
});

try
{
    return await app.RunAsync(args);
}
catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or FormatException or UnauthorizedAccessException or CommandAppException)
{
    await Console.Error.WriteLineAsync($"tierkv: {ex.Message}");
    return 2;
}
