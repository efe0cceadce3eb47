using System.Diagnostics.Metrics;
using CsCheck;
using TierKv.Analysis.Replay;
using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Curves;
using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Tiers;
using Xunit.Abstractions;

namespace TierKv.Analysis.Tests;

/// <summary>The live miss-ratio curve estimator (docs/operations.md, "Live curves") against the exact simulators of <c>analyze</c>.</summary>
public sealed class LiveCurveTests(ITestOutputHelper output)
{
    /// <summary>Chained traces (ids are prefix hashes): each request keeps a prefix of an earlier one and adds new ids.</summary>
    private static readonly Gen<int[][]> ChainedTraces = Gen.Select(Gen.Int[0, 1000], Gen.Int[0, 8], Gen.Int[0, 5]).Array[1, 60].Select(spec =>
    {
        var requests = new List<int[]>();
        int next = 0;
        foreach (var (from, keep, add) in spec)
        {
            int[] prefix = requests.Count == 0 ? [] : requests[from % requests.Count];
            int[] request = [.. prefix.Take(keep), .. Enumerable.Range(next, add)];
            if (request.Length > 0)
            {
                requests.Add(request);
            }

            next += add;
        }

        return requests.Count == 0 ? [[0]] : requests.ToArray();
    });

    [Fact]
    public async Task Lru_curve_at_full_rate_equals_the_simulator_at_every_size_on_random_chained_traces()
    {
        await Gen.Select(ChainedTraces, Gen.Int[1, 16]).SampleAsync(async (requests, capacity) =>
        {
            var trace = Build(requests);
            var curve = await ReplayWithCurve(trace, "lru", capacity, new MissRatioCurveOptions());
            foreach (var p in curve)
            {
                var exact = CurveRunner.Simulate(trace, "lru", (int)p.Capacity);
                Assert.True(Math.Abs(exact.HitRatio - p.HitRatio) < 1e-12, $"lru at {p.Capacity}: exact {exact.HitRatio}, estimated {p.HitRatio}");
            }
        }, iter: 80);
    }

    [Theory]
    [InlineData("s3fifo")]
    [InlineData("arc")]
    [InlineData("lru-prefix")]
    public async Task Miniature_caches_at_full_rate_equal_the_simulator(string policy)
    {
        var options = new MissRatioCurveOptions { Policies = [policy], PolicySampleRate = 1 };
        await Gen.Select(ChainedTraces, Gen.Int[1, 16]).SampleAsync(async (requests, capacity) =>
        {
            var trace = Build(requests);
            var curve = await ReplayWithCurve(trace, "leader", capacity, options);
            foreach (var p in curve.Where(p => p.Policy == policy))
            {
                var exact = CurveRunner.Simulate(trace, policy, (int)p.Capacity);
                Assert.True(Math.Abs(exact.HitRatio - p.HitRatio) < 1e-12, $"{policy} at {p.Capacity}: exact {exact.HitRatio}, estimated {p.HitRatio}");
            }
        }, iter: 40);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Lru_curve_sampled_by_families_stays_close_to_the_simulator(int seed)
    {
        // Chains read twice and never again: 20,000 requests of fresh families, some of a root alone.
        var trace = StressTraces.Twice(seed);
        int capacity = trace.UniqueBlocks / 20;
        var options = new MissRatioCurveOptions { MaxTrackedKeys = capacity * 8 / 4, Seed = (ulong)seed };
        var curve = await ReplayWithCurve(trace, "lru", capacity, options);
        foreach (var p in curve)
        {
            double exact = CurveRunner.Simulate(trace, "lru", (int)p.Capacity).HitRatio;
            output.WriteLine($"lru {p.Capacity} (x{p.Multiple}): estimated {p.HitRatio:F4}, exact {exact:F4}");
            Assert.InRange(p.HitRatio - exact, -0.02, 0.02);
        }
    }

    [Fact]
    public void Memory_is_fixed_at_construction_bounded_by_the_tracked_keys_and_observing_allocates_nothing()
    {
        var options = new MissRatioCurveOptions { MaxTrackedKeys = 1 << 16, Policies = ["s3fifo"], PolicySampleRate = 1.0 / 64 };
        using var small = new MissRatioCurveEstimator(options, 1_000, "lru");
        using var huge = new MissRatioCurveEstimator(options, 50_000_000, "lru");
        Assert.Equal(1, small.LruSampleRate);
        Assert.True(huge.LruSampleRate < 1.0 / 1000, $"rate {huge.LruSampleRate}");
        Assert.InRange(huge.MemoryBytes, 1, 64L << 20);
        output.WriteLine($"memory: {small.MemoryBytes} bytes at 1,000 slots, {huge.MemoryBytes} at 50M slots (rates {huge.LruSampleRate}, {huge.PolicySampleRate})");

        var rng = new Random(7);
        var keys = new ChunkKey[20_000];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = RequestTraceBuilder.KeyOfHashId(rng.Next(5_000));
        }

        long allocated = -1;
        for (int pass = 0; pass < 3; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < keys.Length; i++)
            {
                ChunkKey? parent = i % 4 == 0 ? null : keys[i - 1];
                small.Observe(keys[i], parent);
                huge.Observe(keys[i], parent);
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Dram_tier_with_a_curve_allocates_nothing_per_chunk()
    {
        using var tier = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 64 * 4096, SlotBytes = 4096, Curves = new MissRatioCurveOptions { Policies = ["s3fifo"] } });
        var layout = new KvLayout("curve-test", 1, 1, 64, KvElementType.BFloat16, 16);
        var payload = new byte[4096];
        var buffer = new byte[4096];
        var keys = new ChunkKey[512];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = RequestTraceBuilder.KeyOfHashId(i);
        }

        long allocated = -1;
        for (int pass = 0; pass < 3; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < keys.Length; i++)
            {
                ChunkKey? parent = i % 8 == 0 ? null : keys[i - 1];
                if (!tier.TryRead(keys[i], buffer))
                {
                    tier.Write(layout, keys[i], parent, payload);
                }
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);
        Assert.Equal(3 * keys.Length, tier.Curves!.ObservedAccesses);
    }

    [Fact]
    public void Curve_is_exported_on_the_meter_with_tier_policy_and_size()
    {
        using var metrics = new TierKvMetrics();
        using var tier = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 16 * 4096, SlotBytes = 4096, Name = "dram.team-a", Curves = new MissRatioCurveOptions() }, metrics);
        var layout = new KvLayout("curve-test", 1, 1, 64, KvElementType.BFloat16, 16);
        var payload = new byte[4096];
        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < 8; i++)
            {
                var key = RequestTraceBuilder.KeyOfHashId(i);
                if (!tier.TryRead(key, payload))
                {
                    tier.Write(layout, key, i == 0 ? null : RequestTraceBuilder.KeyOfHashId(i - 1), payload);
                }
            }
        }

        tier.Curves!.Flush();
        var seen = new List<(string Name, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter && instrument.Name.StartsWith("tierkv.tier.curve.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => seen.Add((i.Name, v, Tags(tags))));
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => seen.Add((i.Name, v, Tags(tags))));
        listener.Start();
        listener.RecordObservableInstruments();

        var points = seen.Where(s => s.Name == "tierkv.tier.curve.hit_ratio").ToList();
        Assert.Equal(6, points.Count);
        Assert.All(points, p => Assert.Equal("dram.team-a", p.Tags["tier"]));
        Assert.All(points, p => Assert.Equal("lru", p.Tags["policy"]));
        // 8 chunks twice in a tier of 16: the second round hits everything from 1x up (half of all accesses).
        var at1 = Assert.Single(points, p => (string?)p.Tags["multiple"] == "1");
        Assert.Equal(0.5, at1.Value, 6);
        Assert.Equal(16L, at1.Tags["capacity"]);
        Assert.Equal(0.0, Assert.Single(points, p => (string?)p.Tags["multiple"] == "0.25").Value, 6);
        Assert.Contains(seen, s => s.Name == "tierkv.tier.curve.memory" && s.Value > 0);
        Assert.Contains(seen, s => s.Name == "tierkv.tier.curve.sample_rate" && s.Value == 1);
        Assert.Contains(seen, s => s.Name == "tierkv.tier.curve.inline_drains" && s.Value == 0);
        Assert.Contains(seen, s => s.Name == "tierkv.tier.curve.cpu_time" && s.Value >= 0);
    }

    private static Dictionary<string, object?> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var d = new Dictionary<string, object?>();
        foreach (var t in tags)
        {
            d[t.Key] = t.Value;
        }

        return d;
    }

    private static async Task<IReadOnlyList<CurvePoint>> ReplayWithCurve(RequestTrace trace, string policy, int capacity, MissRatioCurveOptions curves)
    {
        using var replayer = new TraceReplayer(trace, new ReplayOptions { Policy = policy, DramBlocks = capacity, ChunkBytes = 256, Curves = curves });
        var result = await replayer.RunAsync();
        Assert.NotEmpty(result.Curve);
        return result.Curve;
    }

    private static RequestTrace Build(int[][] requests)
    {
        var b = new RequestTraceBuilder("curve", 16);
        for (int r = 0; r < requests.Length; r++)
        {
            b.Add(r, requests[r].Length * 16, 0, 0, [.. requests[r].Select(id => RequestTraceBuilder.KeyOfHashId(id))]);
        }

        return b.Build();
    }
}
