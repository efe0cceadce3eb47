using System.Runtime.InteropServices;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv bench dram</c>: memcpy of chunk-sized buffers as the baseline, then Store and Retrieve through the tiered
/// store on the same buffers and thread count, lookup latency of a cached 512-chunk prefix, and key hashing speed.
/// </summary>
internal sealed class BenchDramCommand : Command<BenchDramCommand.Settings>
{
    public sealed class Settings : BenchSettings
    {
        [CommandOption("--chunks")]
        [Description("Chunks moved per repetition.")]
        [DefaultValue(32)]
        public int Chunks { get; init; } = 32;

        [CommandOption("--lookups")]
        [Description("Timed lookups of the 512-chunk prefix.")]
        [DefaultValue(20000)]
        public int Lookups { get; init; } = 20000;

        [CommandOption("--policy")]
        [Description("Eviction policy of the DRAM tier.")]
        public string? Policy { get; init; }

        public override ValidationResult Validate() => SettingsRules.Check(
            (Chunks < 1 || Chunks > 4096, "--chunks must be in [1, 4096]."),
            RepsRule(1000),
            (Lookups < 100, "--lookups must be at least 100."));
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shape = settings.Shape();
        var layout = shape.Layout;
        int cb = layout.ChunkBytes;
        int n = settings.Chunks;
        long volume = (long)cb * n;
        settings.ProgressConsole()?.MarkupLine($"[grey]bench dram: {n} chunks of {cb / (1 << 20)} MiB ({layout.ModelId}), {settings.Reps} repetitions, 1 thread[/]");

        // Source chunks with distinct contents, and keys of one long prefix.
        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, BenchTokens.Distinct(n * layout.TokensPerChunk));
        var source = GC.AllocateUninitializedArray<byte>(checked((int)Math.Min(volume, int.MaxValue - 64)), pinned: true);
        if (source.Length < volume)
        {
            throw new ArgumentException($"--chunks {n} of {cb} bytes exceed 2 GiB of source buffer; use fewer chunks.");
        }

        new Random(42).NextBytes(source);
        var destination = GC.AllocateUninitializedArray<byte>(source.Length, pinned: true);
        destination.AsSpan().Fill(1);

        // Baseline: memcpy of the same chunk-sized buffers into a separate, pre-touched native region.
        List<double> memcpy;
        unsafe
        {
            byte* region = (byte*)NativeMemory.AlignedAlloc((nuint)volume, 4096);
            try
            {
                new Span<byte>(region, (int)volume).Fill(1);
                nint target = (nint)region;
                memcpy = Throughput.GBps(settings.Reps, volume, () =>
                {
                    for (int c = 0; c < n; c++)
                    {
                        source.AsSpan(c * cb, cb).CopyTo(new Span<byte>((byte*)target + ((long)c * cb), cb));
                    }
                });
            }
            finally
            {
                NativeMemory.AlignedFree(region);
            }
        }

        List<double> put;
        List<double> get;
        using (var store = new TieredStore([new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = volume, SlotBytes = cb, EvictionPolicy = settings.Policy ?? "lru" })]))
        {
            var dram = (HostMemoryTier)store.Tiers[0];
            put = Throughput.GBps(
                settings.Reps,
                volume,
                () =>
                {
                    int stored = store.Store(layout, keys, source.AsSpan(0, (int)volume));
                    if (stored != n)
                    {
                        throw new InvalidOperationException($"Store kept {stored} of {n} chunks.");
                    }
                },
                untimed: () =>
                {
                    foreach (var k in keys)
                    {
                        dram.Remove(k);
                    }
                });

            get = Throughput.GBps(settings.Reps, volume, () =>
            {
                int got = store.Retrieve(layout, keys, destination.AsSpan(0, (int)volume));
                if (got != n)
                {
                    throw new InvalidOperationException($"Retrieve returned {got} of {n} chunks.");
                }
            });

            if (!destination.AsSpan(0, (int)volume).SequenceEqual(source.AsSpan(0, (int)volume)))
            {
                throw new InvalidOperationException("Retrieved bytes differ from the stored ones.");
            }
        }

        // Lookup of a fully cached 131,072-token prefix (512 chunks of 256) whose keys the caller holds.
        var lookupLayout = BenchTokens.LookupLayout;
        const int lookupChunks = BenchTokens.LookupChunks;
        var lookupTokens = BenchTokens.LookupPrefix();

        var lookupKeys = PrefixHasher.ComputeKeys(lookupLayout, TenantSalt.None, lookupTokens);
        var lat = new double[settings.Lookups];
        using (var store = new TieredStore([new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = (long)lookupLayout.ChunkBytes * lookupChunks * 2, SlotBytes = lookupLayout.ChunkBytes })]))
        {
            store.Store(lookupLayout, lookupKeys, new byte[lookupLayout.ChunkBytes * lookupChunks]);
            // Warm up by time, not by count: tiered JIT promotes hot methods to optimized code only after they
            // have run for a while, and the figures are about the steady state an engine sees.
            var warm = Stopwatch.StartNew();
            while (warm.ElapsedMilliseconds < 1500)
            {
                _ = store.Lookup(lookupLayout, lookupKeys);
            }

            for (int i = 0; i < lat.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                int hit = store.Lookup(lookupLayout, lookupKeys);
                lat[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                if (hit != lookupTokens.Length)
                {
                    throw new InvalidOperationException($"Lookup found {hit} of {lookupTokens.Length} tokens.");
                }
            }
        }

        // Chained key hashing over the same 131,072 tokens: as PrefixHasher.ComputeKeys runs it (the chunks' token
        // hashes on all cores for long prompts), and on one thread.
        var hashSingle = new List<double>();
        var hash = new List<double>();
        var keyBuf = new ChunkKey[lookupChunks];
        long tokenBytes = lookupTokens.Length * sizeof(int);
        var warmHash = Stopwatch.StartNew();
        while (warmHash.ElapsedMilliseconds < 1500)
        {
            PrefixHasher.ComputeKeys(lookupLayout, TenantSalt.None, lookupTokens, keyBuf);
            PrefixHasher.ComputeKeysSingleThreaded(lookupLayout, TenantSalt.None, lookupTokens, keyBuf);
        }

        for (int r = 0; r < settings.Reps + 2; r++)
        {
            const int inner = 20;
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++)
            {
                PrefixHasher.ComputeKeys(lookupLayout, TenantSalt.None, lookupTokens, keyBuf);
            }

            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++)
            {
                PrefixHasher.ComputeKeysSingleThreaded(lookupLayout, TenantSalt.None, lookupTokens, keyBuf);
            }

            double s1 = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (r > 1)
            {
                hash.Add(tokenBytes * inner / s / 1e9);
                hashSingle.Add(tokenBytes * inner / s1 / 1e9);
            }
        }

        var report = new CommandReport(new JsonObject
        {
            ["bench"] = "dram",
            ["model"] = shape.Name,
            ["chunk_bytes"] = cb,
            ["chunks"] = n,
            ["threads"] = 1,
            ["reps"] = settings.Reps,
            ["lookup_tokens"] = lookupTokens.Length,
            ["lookup_chunks"] = lookupChunks,
            ["lookup_p50_us"] = JsonOutput.Round(Stats.Percentile(lat, 0.50), 2),
            ["lookup_p99_us"] = JsonOutput.Round(Stats.Percentile(lat, 0.99), 2),
            ["lookup_p999_us"] = JsonOutput.Round(Stats.Percentile(lat, 0.999), 2),
            ["hash_gbs"] = JsonOutput.Round(Stats.Median(hash)),
            ["hash_threads"] = Environment.ProcessorCount,
            ["hash_single_thread_gbs"] = JsonOutput.Round(Stats.Median(hashSingle)),
            ["hash_tokens"] = lookupTokens.Length,
        }
        .Versus("put_gbs", put, "memcpy_gbs", memcpy, "put_vs_memcpy")
        .Versus("get_gbs", get, "memcpy_gbs", memcpy, "get_vs_memcpy"));
        return report.Table("measure", "TierKV", "baseline", "ratio")
            .Row("store (put)", $"{report["put_gbs"]} GB/s", $"memcpy {report["memcpy_gbs"]} GB/s", report["put_vs_memcpy"])
            .Row("retrieve (get)", $"{report["get_gbs"]} GB/s", $"memcpy {report["memcpy_gbs"]} GB/s", report["get_vs_memcpy"])
            .Row("lookup 512 chunks", $"p50 {report["lookup_p50_us"]} us, p99 {report["lookup_p99_us"]} us", "target p99 <= 20 us", "")
            .Row("chained key hashing", $"{report["hash_gbs"]} GB/s ({report["hash_threads"]} cores; one thread {report["hash_single_thread_gbs"]} GB/s)", "target >= 20 GB/s", "")
            .Write(settings.Json);
    }
}
