using System.Diagnostics;
using System.Text.Json.Nodes;
using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Keys;

namespace TierKv.Analysis;

/// <summary>Everything <c>tierkv analyze</c> reports about one trace.</summary>
public sealed class TraceAnalysis
{
    private readonly Dictionary<(string, int), SimulationResult> _byKey = [];

    private TraceAnalysis(RequestTrace trace, IReadOnlyList<string> policies, IReadOnlyList<int> capacities, string defaultPolicy)
    {
        Trace = trace;
        Policies = policies;
        Capacities = capacities;
        DefaultPolicy = defaultPolicy;
    }

    /// <summary>The trace.</summary>
    public RequestTrace Trace { get; }

    /// <summary>Policies simulated (the default policy included).</summary>
    public IReadOnlyList<string> Policies { get; }

    /// <summary>Capacities in blocks.</summary>
    public IReadOnlyList<int> Capacities { get; }

    /// <summary>TierKV's default eviction policy.</summary>
    public string DefaultPolicy { get; }

    /// <summary>Statistics.</summary>
    public TraceStatistics Statistics { get; private set; } = null!;

    /// <summary>Reuse distances.</summary>
    public ReuseProfile Reuse { get; private set; } = null!;

    /// <summary>The infinite cache.</summary>
    public SimulationResult Infinite { get; private set; } = null!;

    /// <summary>All curve points.</summary>
    public IReadOnlyList<SimulationResult> Curves { get; private set; } = [];

    /// <summary>The sweep's points (<c>analyze --sweep</c>; empty without it): every policy at <see cref="SweepCapacities"/>.</summary>
    public IReadOnlyList<SimulationResult> Sweep { get; private set; } = [];

    /// <summary>Capacities of the sweep (empty without it).</summary>
    public IReadOnlyList<int> SweepCapacities { get; private set; } = [];

    /// <summary>Per policy, its worst hit ratio against the better of <c>lru</c> and <c>lru-prefix</c> over the sweep.</summary>
    public IReadOnlyDictionary<string, SweepShortfall> WorstVsBestSimple { get; private set; } = new Dictionary<string, SweepShortfall>();

    /// <summary>Sizing for the model shape.</summary>
    public SizingRecommendation Sizing { get; private set; } = null!;

    /// <summary>Seconds the curves took.</summary>
    public double CurveSeconds { get; private set; }

    /// <summary>Hit ratio of a computed point.</summary>
    public double HitRatio(string policy, int capacity) => _byKey[(policy, capacity)].HitRatio;

    /// <summary>Runs the whole analysis.</summary>
    /// <param name="trace">The trace.</param>
    /// <param name="policies">Policies to simulate (the default policy is added when missing).</param>
    /// <param name="capacities">Capacities of the curves, in blocks.</param>
    /// <param name="shape">Model shape for the sizing.</param>
    /// <param name="defaultPolicy">TierKV's default policy.</param>
    /// <param name="sweep">Also simulate every policy at <see cref="PolicySweep.Capacities"/> (and <c>lru</c> and <c>lru-prefix</c>, added when missing).</param>
    public static TraceAnalysis Run(RequestTrace trace, IReadOnlyList<string> policies, IReadOnlyList<int> capacities, ModelShapes.Shape shape, string defaultPolicy, bool sweep = false)
    {
        var list = policies.ToList();
        if (!list.Contains(defaultPolicy))
        {
            list.Add(defaultPolicy);
        }

        var sweepCapacities = sweep ? PolicySweep.Capacities(trace.UniqueBlocks) : [];
        if (sweep)
        {
            foreach (string p in PolicySweep.SimplePolicies)
            {
                if (!list.Contains(p))
                {
                    list.Add(p);
                }
            }
        }

        var a = new TraceAnalysis(trace, list, capacities, defaultPolicy) { SweepCapacities = sweepCapacities };
        var sw = Stopwatch.StartNew();
        // One parallel run over the union of the curves' and the sweep's capacities: the cores stay busy to the end.
        var union = capacities.Union(sweepCapacities).ToList();
        var all = CurveRunner.Run(trace, list, union);
        a.CurveSeconds = sw.Elapsed.TotalSeconds;
        var curveSet = capacities.ToHashSet();
        var sweepSet = sweepCapacities.ToHashSet();
        a.Curves = [.. all.Where(r => curveSet.Contains(r.Capacity))];
        a.Sweep = [.. all.Where(r => sweepSet.Contains(r.Capacity))];
        a.WorstVsBestSimple = PolicySweep.WorstVsBestSimple(a.Sweep);
        foreach (var r in all)
        {
            a._byKey[(r.Policy, r.Capacity)] = r;
        }

        a.Statistics = TraceStatistics.Of(trace);
        a.Reuse = ReuseProfile.Compute(trace);
        a.Infinite = BeladySimulator.Infinite(trace);
        var known = all.Where(r => r.Policy == defaultPolicy).ToDictionary(r => r.Capacity, r => r.HitRatio);
        a.Sizing = SizingRecommendation.Compute(trace, defaultPolicy, shape, a.Infinite.HitRatio, known);
        return a;
    }

    /// <summary>The JSON object of <c>analyze --json</c>.</summary>
    public JsonObject ToJson()
    {
        var s = Statistics;
        var curves = new JsonArray();
        foreach (var r in Curves)
        {
            curves.Add(new JsonObject { ["policy"] = r.Policy, ["capacity"] = r.Capacity, ["hit_ratio"] = Math.Round(r.HitRatio, 4), ["hit_blocks"] = r.HitBlocks, ["blocks"] = r.Blocks });
        }

        var buckets = new JsonArray();
        for (int k = 0; k < Reuse.BucketCounts.Length; k++)
        {
            buckets.Add(new JsonObject { ["min_distance"] = ReuseProfile.BucketLow(k), ["max_distance"] = ReuseProfile.BucketLow(k + 1) - 1, ["reuses"] = Reuse.BucketCounts[k] });
        }

        var targets = new JsonArray();
        foreach (var t in Sizing.Targets)
        {
            targets.Add(new JsonObject { ["fraction"] = t.Fraction, ["hit_ratio"] = Math.Round(t.HitRatio, 4), ["blocks"] = t.Blocks, ["tokens"] = t.Tokens, ["bytes"] = t.Bytes });
        }

        var json = new JsonObject
        {
            ["trace"] = Trace.Name,
            ["block_tokens"] = Trace.BlockTokens,
            ["default_policy"] = DefaultPolicy,
            ["statistics"] = new JsonObject
            {
                ["requests"] = s.Requests,
                ["span_seconds"] = Math.Round(s.SpanSeconds, 3),
                ["requests_per_second"] = Math.Round(s.RequestsPerSecond, 3),
                ["mean_input_tokens"] = Math.Round(s.MeanInputTokens, 1),
                ["median_input_tokens"] = s.MedianInputTokens,
                ["p99_input_tokens"] = s.P99InputTokens,
                ["mean_output_tokens"] = Math.Round(s.MeanOutputTokens, 1),
                ["mean_blocks_per_request"] = Math.Round(s.MeanBlocksPerRequest, 3),
                ["block_accesses"] = s.BlockAccesses,
                ["unique_blocks"] = s.UniqueBlocks,
                ["parent_conflicts"] = Trace.ParentConflicts,
                ["input_tokens"] = s.InputTokens,
                ["tenants"] = s.Tenants,
            },
            ["reuse_fraction"] = Math.Round(Infinite.HitRatio, 4),
            ["reuse_distance"] = new JsonObject
            {
                ["reuses"] = Reuse.Reuses,
                ["first_accesses"] = Reuse.FirstAccesses,
                ["median"] = Reuse.MedianDistance,
                ["p90"] = Reuse.P90Distance,
                ["buckets"] = buckets,
            },
            ["curves"] = curves,
            ["curve_seconds"] = Math.Round(CurveSeconds, 3),
            ["recommendation"] = new JsonObject
            {
                ["model"] = Sizing.Model,
                ["bytes_per_token"] = Sizing.BytesPerToken,
                ["policy"] = Sizing.Policy,
                ["attainable_hit_ratio"] = Math.Round(Sizing.Attainable, 4),
                ["targets"] = targets,
                ["dram_bytes"] = Sizing.DramBytes,
                ["ssd_bytes"] = Sizing.SsdBytes,
            },
        };
        if (SweepCapacities.Count > 0)
        {
            var sweep = new JsonArray();
            foreach (var r in Sweep)
            {
                sweep.Add(new JsonObject { ["policy"] = r.Policy, ["capacity"] = r.Capacity, ["hit_ratio"] = Math.Round(r.HitRatio, 4), ["hit_blocks"] = r.HitBlocks });
            }

            var worst = new JsonObject();
            foreach (string p in Policies)
            {
                if (WorstVsBestSimple.TryGetValue(p, out var w))
                {
                    worst[p] = new JsonObject { ["delta"] = Math.Round(w.Delta, 6), ["capacity"] = w.Capacity };
                }
            }

            json["sweep"] = sweep;
            json["worst_vs_best_simple"] = worst;
        }

        return json;
    }
}
