using StackExchange.Redis;
using TierKv.Remote;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv bench remote</c>: in one run, chunk-sized values written and read with plain StackExchange.Redis calls
/// (the baseline) and through the remote tier (chunk format, verification, per-node resilience), with the same
/// values, keys spread the same way and the same concurrency; then lookup latency of a 512-chunk prefix held in the
/// cluster, through the tiered store.
/// </summary>
internal sealed class BenchRemoteCommand : AsyncCommand<BenchRemoteCommand.Settings>
{
    public sealed class Settings : BenchSettings
    {
        [CommandOption("--endpoints <ENDPOINTS>")]
        [Description("Redis/Valkey/Garnet endpoints, HOST:PORT[[,HOST:PORT...]] (a cluster's other nodes are discovered).")]
        public string Endpoints { get; init; } = string.Empty;

        [CommandOption("--chunks")]
        [Description("Chunks moved per repetition.")]
        [DefaultValue(16)]
        public int Chunks { get; init; } = 16;

        [CommandOption("--concurrency")]
        [Description("Chunks in flight at once, for the raw client and the tier alike.")]
        [DefaultValue(4)]
        public int Concurrency { get; init; } = 4;

        [CommandOption("--lookups")]
        [Description("Timed lookups of the 512-chunk prefix.")]
        [DefaultValue(2000)]
        public int Lookups { get; init; } = 2000;

        [CommandOption("--bulk-connections")]
        [Description("Connections per node for values in the tier (lookups have their own).")]
        [DefaultValue(1)]
        public int BulkConnections { get; init; } = 1;

        public override ValidationResult Validate() => SettingsRules.Check(
            (string.IsNullOrWhiteSpace(Endpoints), "--endpoints is required: HOST:PORT[,HOST:PORT...] of a Redis, Valkey or Garnet server or cluster."),
            (Chunks < 1 || Chunks > 1024, "--chunks must be in [1, 1024]."),
            (Concurrency < 1 || Concurrency > 64, "--concurrency must be in [1, 64]."),
            RepsRule(100),
            (Lookups < 100, "--lookups must be at least 100."));
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shape = settings.Shape();
        var layout = shape.Layout;
        int cb = layout.ChunkBytes;
        int n = settings.Chunks;
        long volume = (long)cb * n;
        if (volume > int.MaxValue - 64)
        {
            throw new ArgumentException($"--chunks {n} of {cb} bytes exceed 2 GiB per repetition; use fewer chunks.");
        }

        var log = settings.ProgressConsole();
        string prefix = $"tierkv-bench-{Environment.ProcessId}";
        var options = RemoteTierOptions.FromEndpoints(settings.Endpoints) with { KeyPrefix = prefix, BulkConnections = settings.BulkConnections };
        options.Validate();

        // The baseline: a plain multiplexer as an application would open it.
        var rawConfig = ConfigurationOptions.Parse(string.Join(',', options.Endpoints));
        rawConfig.AbortOnConnectFail = false;
        await using var raw = await ConnectionMultiplexer.ConnectAsync(rawConfig);
        await using var tier = await RedisTier.ConnectAsync(options, log: m => Console.Error.WriteLine(m));
        if (!raw.IsConnected || !tier.IsConnected)
        {
            throw new InvalidOperationException($"Cannot reach {settings.Endpoints}: start the server or cluster, or fix --endpoints.");
        }

        int nodes = raw.GetServers().Count(s => s.IsConnected && !s.IsReplica);
        log?.MarkupLine($"[grey]bench remote: {n} chunks of {cb / (1 << 20)} MiB ({layout.ModelId}), {nodes} primaries, concurrency {settings.Concurrency}, {settings.Reps} repetitions[/]");

        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, BenchTokens.Distinct(n * layout.TokensPerChunk));
        var rawScheme = new RedisKeyScheme(prefix + "-raw");
        var rawKeys = new RedisKey[n];
        var tierKeys = new RedisKey[n];
        for (int i = 0; i < n; i++)
        {
            rawKeys[i] = rawScheme.KeyFor(keys[i]);
            tierKeys[i] = tier.KeyScheme.KeyFor(keys[i]);
        }

        var source = GC.AllocateUninitializedArray<byte>((int)volume, pinned: true);
        new Random(42).NextBytes(source);
        var destination = GC.AllocateUninitializedArray<byte>((int)volume, pinned: true);
        var db = raw.GetDatabase();
        var rawSet = new List<double>();
        var rawGet = new List<double>();
        var put = new List<double>();
        var get = new List<double>();
        int failures = 0;
        try
        {
            for (int r = 0; r < settings.Reps + 1; r++)
            {
                // Alternate which side goes first, so drift in the machine's load does not favour either.
                bool rawFirst = r % 2 == 0;
                for (int side = 0; side < 2; side++)
                {
                    if ((side == 0) == rawFirst)
                    {
                        double s = await Timed(n, settings.Concurrency, async i => await db.StringSetAsync(rawKeys[i], source.AsMemory(i * cb, cb)));
                        double g = await Timed(n, settings.Concurrency, async i =>
                        {
                            using var lease = await db.StringGetLeaseAsync(rawKeys[i]) ?? throw new InvalidOperationException($"Raw GET of chunk {i} found nothing.");
                            lease.Span.CopyTo(destination.AsSpan(i * cb, cb));
                        });
                        if (r > 0)
                        {
                            rawSet.Add(volume / s / 1e9);
                            rawGet.Add(volume / g / 1e9);
                        }
                    }
                    else
                    {
                        double s = await Timed(n, settings.Concurrency, async i =>
                        {
                            var w = await tier.WriteAsync(layout, keys[i], i > 0 ? keys[i - 1] : null, source.AsMemory(i * cb, cb));
                            if (w != TierWriteStatus.Stored)
                            {
                                Interlocked.Increment(ref failures);
                            }
                        });
                        destination.AsSpan().Clear();
                        double g = await Timed(n, settings.Concurrency, async i =>
                        {
                            if (await tier.ReadAsync(layout, keys[i], destination.AsMemory(i * cb, cb)) != TierReadStatus.Hit)
                            {
                                Interlocked.Increment(ref failures);
                            }
                        });
                        if (failures > 0)
                        {
                            throw new InvalidOperationException($"{failures} tier writes or reads did not succeed (counters: failures {tier.Counters.Failures}, damaged {tier.Counters.Damaged}).");
                        }

                        if (!destination.AsSpan().SequenceEqual(source))
                        {
                            throw new InvalidOperationException("Bytes read through the tier differ from those written.");
                        }

                        if (r > 0)
                        {
                            put.Add(volume / s / 1e9);
                            get.Add(volume / g / 1e9);
                        }
                    }
                }

                await DeleteAll(db, rawKeys, tierKeys);
            }
        }
        finally
        {
            await DeleteAll(db, rawKeys, tierKeys);
        }

        var (p50, p99, p999, lookupKeys) = await MeasureLookups(tier, settings.Lookups, db);

        var report = new CommandReport(new JsonObject
        {
            ["bench"] = "remote",
            ["endpoints"] = settings.Endpoints,
            ["primaries"] = nodes,
            ["model"] = shape.Name,
            ["chunk_bytes"] = cb,
            ["chunks"] = n,
            ["concurrency"] = settings.Concurrency,
            ["bulk_connections"] = settings.BulkConnections,
            ["reps"] = settings.Reps,
            ["lookup_chunks"] = lookupKeys,
            ["lookup_p50_us"] = JsonOutput.Round(p50, 1),
            ["lookup_p99_us"] = JsonOutput.Round(p99, 1),
            ["lookup_p999_us"] = JsonOutput.Round(p999, 1),
            ["lookup_budget_ms"] = options.LookupBudget.TotalMilliseconds,
            ["failures"] = tier.Counters.Failures,
            ["damaged"] = tier.Counters.Damaged,
        }
        .Versus("put_gbs", put, "raw_set_gbs", rawSet, "put_vs_raw")
        .Versus("get_gbs", get, "raw_get_gbs", rawGet, "get_vs_raw"));
        return report.Table("measure", "TierKV", "baseline", "ratio")
            .Row("write (put)", $"{report["put_gbs"]} GB/s", $"raw SET {report["raw_set_gbs"]} GB/s", report["put_vs_raw"])
            .Row("read (get)", $"{report["get_gbs"]} GB/s", $"raw GET {report["raw_get_gbs"]} GB/s", report["get_vs_raw"])
            .Row("lookup 512 chunks", $"p50 {report["lookup_p50_us"]} us, p99 {report["lookup_p99_us"]} us", $"budget {options.LookupBudget.TotalMilliseconds} ms", "")
            .Write(settings.Json);
    }

    /// <summary>Runs <paramref name="op"/> for indices 0..n-1 with <paramref name="concurrency"/> in flight; returns seconds.</summary>
    private static async Task<double> Timed(int n, int concurrency, Func<int, Task> op)
    {
        int next = -1;
        long t0 = Stopwatch.GetTimestamp();
        var workers = new Task[Math.Min(concurrency, n)];
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < n)
                {
                    await op(i);
                }
            });
        }

        await Task.WhenAll(workers);
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static async Task DeleteAll(IDatabase db, RedisKey[] rawKeys, RedisKey[] tierKeys)
    {
        var pending = new List<Task>(rawKeys.Length + tierKeys.Length);
        foreach (var k in rawKeys)
        {
            pending.Add(db.KeyDeleteAsync(k));
        }

        foreach (var k in tierKeys)
        {
            pending.Add(db.KeyDeleteAsync(k));
        }

        await Task.WhenAll(pending);
    }

    /// <summary>A 131,072-token prefix (512 chunks of 256) held only in the cluster, looked up through the tiered store.</summary>
    private static async Task<(double P50, double P99, double P999, int Chunks)> MeasureLookups(RedisTier tier, int count, IDatabase db)
    {
        var layout = BenchTokens.LookupLayout;
        const int chunks = BenchTokens.LookupChunks;
        var tokens = BenchTokens.LookupPrefix();
        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
        var payload = new byte[layout.ChunkBytes];
        var writes = new Task[chunks];
        for (int i = 0; i < chunks; i++)
        {
            writes[i] = tier.WriteAsync(layout, keys[i], i > 0 ? keys[i - 1] : null, payload).AsTask();
        }

        await Task.WhenAll(writes);

        // An empty DRAM tier in front, as in a real store: every chunk is found in the cluster.
        using var dram = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = layout.ChunkBytes * 4L, SlotBytes = layout.ChunkBytes });
        using var store = new TieredStore([dram, tier], ownsTiers: false);
        var lat = new double[count];
        try
        {
            for (int i = 0; i < Math.Max(100, count / 10); i++)
            {
                _ = await store.LookupAsync(layout, keys);
            }

            for (int i = 0; i < lat.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                int hit = await store.LookupAsync(layout, keys);
                lat[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                if (hit != tokens.Length)
                {
                    throw new InvalidOperationException($"Lookup found {hit} of {tokens.Length} tokens in the cluster.");
                }
            }
        }
        finally
        {
            var deletes = new Task[chunks];
            for (int i = 0; i < chunks; i++)
            {
                deletes[i] = db.KeyDeleteAsync(tier.KeyScheme.KeyFor(keys[i]));
            }

            await Task.WhenAll(deletes);
        }

        return (Stats.Percentile(lat, 0.50), Stats.Percentile(lat, 0.99), Stats.Percentile(lat, 0.999), chunks);
    }
}
