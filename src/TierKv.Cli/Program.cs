using TierKv.Cli;
using TierKv.Cli.Commands;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("tierkv");
    // An unknown or misspelled flag is an error, not an extra argument silently ignored (serve --dta DIR).
    config.UseStrictParsing();
    config.PropagateExceptions();
    config.AddCommand<EngineDemoCommand>("demo").WithDescription("Multi-turn chats on a synthetic transformer: time to first token with TierKV vs recompute, bit-identical logits.");
    config.AddCommand<DemoCommand>("demo-synthetic").WithDescription("Multi-turn chat workload over the tiered store: hit tokens per turn and tier.");
    config.AddBranch("bench", bench =>
    {
        bench.SetDescription("Benchmarks, each against a baseline measured in the same run.");
        bench.AddCommand<BenchDramCommand>("dram").WithDescription("DRAM tier: store/retrieve against memcpy, lookup latency, key hashing.");
        bench.AddCommand<BenchRemoteCommand>("remote").WithDescription("Remote tier on a Redis/Valkey/Garnet cluster: put/get against the plain client, lookup latency.");
        bench.AddCommand<BenchSsdCommand>("ssd").WithDescription("SSD tier: store/retrieve against raw O_DIRECT I/O in the same directory, random chunk read latency.");
        bench.AddCommand<BenchServerCommand>("server").WithDescription("tierkv serve against redis-server on loopback: GET/SET GB/s with the same clients, lookup round-trip latency.");
        bench.AddCommand<BenchGpuCommand>("gpu").WithDescription("GPU data path: PCIe ceilings, load (scatter) and store (gather) of paged KV, per-layer latency.");
        bench.AddCommand<BenchMatmulCommand>("matmul").WithDescription("Engine: float32 blocked matrix multiply GFLOP/s against this machine's FMA peak.");
        // bench commands of other components register here.
    });
    config.AddCommand<KeysCommand>("keys").WithDescription("Chunk keys of a token sequence, or the hashing spec's test vectors.");
    config.AddCommand<ProbeCommand>("probe").WithDescription("Throughput and latency of this machine's tiers, and which load a prefix faster than recomputing it.");
    config.AddCommand<ServeCommand>("serve").WithDescription("Run the node-local cache daemon (Redis protocol, tenants, /metrics and /health).");
    config.AddCommand<TopCommand>("top").WithDescription("Live view of a running tierkv serve: hit ratio per tier, bandwidth, latency, usage, evictions.");
    config.AddCommand<AnalyzeCommand>("analyze").WithDescription("Access-pattern analysis of a trace: reuse, hit-ratio curves by policy and capacity, Belady bound, sizing.");
    config.AddCommand<ReplayCommand>("replay").WithDescription("Replay a trace through the real tiered store: hit ratio per tier, bytes moved, prefill saved.");
    config.AddCommand<ReplayTenantsCommand>("replay-tenants").WithDescription("Two tenants sharing DRAM: a sweep of static splits against the rebalancer moving capacity by the live curves.");
    config.AddCommand<GenerateCommand>("generate").WithDescription("Run a model file (GGUF or safetensors) or a synthetic shape on a prompt, with TierKV's DRAM and SSD tiers.");
    config.AddCommand<ChatCommand>("chat").WithDescription("Interactive chat on llama.cpp whose KV lives in TierKV's DRAM and SSD tiers and survives restarts.");
    config.AddCommand<MakeModelCommand>("make-model").WithDescription("Write a Llama-architecture GGUF with random weights and a byte-level BPE vocabulary that llama.cpp runs.");
    // other top-level commands register here.
});

return await CommandLineErrors.RunAsync(app, args);
