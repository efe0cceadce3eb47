using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Eviction;
using Xunit.Abstractions;

namespace TierKv.Analysis.Tests;

/// <summary>
/// The rule of the trace suite (docs/analysis.md, "The trace suite"): on every trace in the repository the default
/// policy is never below the better of <c>lru</c> and <c>lru-prefix</c> by more than 0.002. <c>../shared/checks/eviction</c>
/// checks the whole 20-point sweep; here the small capacities of the sweep, where the policies differ most, so the test
/// takes seconds.
/// </summary>
public class TraceSuiteTests(ITestOutputHelper output)
{
    private const double Tolerance = 0.002;

    public static TheoryData<string> SuiteTraces
    {
        get
        {
            var data = new TheoryData<string>();
            string root = TraceFixtures.DataDirectory;
            foreach (string f in Directory.EnumerateFiles(root, "*.jsonl", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetRelativePath(root, f));
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(SuiteTraces))]
    public void Default_policy_is_never_clearly_below_the_better_simple_policy(string file)
    {
        var trace = TraceFiles.Read(Path.Combine(TraceFixtures.DataDirectory, file));
        var sweep = PolicySweep.Capacities(trace.UniqueBlocks);
        int[] caps = [.. new[] { 0, 1, 3, 6 }.Where(i => i < sweep.Count).Select(i => sweep[i])];
        string def = EvictionPolicies.Default;
        var results = CurveRunner.Run(trace, ["lru", "lru-prefix", def], caps);
        var worst = PolicySweep.WorstVsBestSimple(results);
        foreach (var r in results.Where(r => r.Policy == def))
        {
            output.WriteLine($"{file} {r.Capacity}: {def} {r.HitRatio:F4}");
        }

        Assert.True(worst[def].Delta >= -Tolerance, $"{file}: {def} {worst[def].Delta:+0.0000;-0.0000} below the better simple policy at {worst[def].Capacity} blocks");
    }

    [Fact]
    public void Sweep_has_twenty_log_spaced_capacities_from_500_to_the_distinct_blocks()
    {
        var caps = PolicySweep.Capacities(182_790);
        Assert.Equal(20, caps.Count);
        Assert.Equal(500, caps[0]);
        Assert.Equal(182_790, caps[^1]);
        double ratio = Math.Pow(182_790 / 500.0, 1 / 19.0);
        for (int i = 1; i < caps.Count; i++)
        {
            Assert.InRange(caps[i] / (double)caps[i - 1], ratio * 0.99, ratio * 1.01);
        }

        Assert.Equal([300], PolicySweep.Capacities(300));
        Assert.Equal(caps.Distinct().Count(), caps.Count);
    }

    [Fact]
    public void Worst_vs_best_simple_is_the_lowest_difference_from_the_better_of_lru_and_lru_prefix()
    {
        SimulationResult R(string p, int c, long hits) => new(p, c, hits, 1000, 0);
        var worst = PolicySweep.WorstVsBestSimple(
        [
            R("lru", 500, 100), R("lru-prefix", 500, 120), R("x", 500, 110),
            R("lru", 900, 300), R("lru-prefix", 900, 250), R("x", 900, 310),
            R("lru", 1500, 400), R("lru-prefix", 1500, 400), R("x", 1500, 399),
        ]);
        Assert.Equal(new SweepShortfall(-0.01, 500), worst["x"] with { Delta = Math.Round(worst["x"].Delta, 6) });
        Assert.Equal(-0.02, Math.Round(worst["lru"].Delta, 6));
        Assert.Equal(500, worst["lru"].Capacity);
        Assert.Equal(-0.05, Math.Round(worst["lru-prefix"].Delta, 6));
        Assert.Equal(900, worst["lru-prefix"].Capacity);
    }
}
