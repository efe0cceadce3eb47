using TierKv.Analysis.Simulation;
using TierKv.Eviction;
using Xunit.Abstractions;

namespace TierKv.Analysis.Tests;

/// <summary>
/// Policy work: prints curves for the policies named in TIERKV_EXPLORE (variants alfu_MIN_RATE_MAX_HALVE_CAP_INIT are
/// registered on the fly) on the conversation and synthetic traces, checking each against Belady. Skipped otherwise.
/// TIERKV_EXPLORE_CAPS overrides the conversation trace's capacities (comma-separated).
/// </summary>
public class PolicyExplorer(ITestOutputHelper output)
{
    [SkippableFact]
    public void Explore()
    {
        string? names = Environment.GetEnvironmentVariable("TIERKV_EXPLORE");
        Skip.If(names is null, "exploration only: set TIERKV_EXPLORE=policy,policy,...");
        // Variants named alfu_MIN_RATE_MAX_HALVE_CAP_INIT or alfu_MIN_RATE_MAX_HALVE_CAP_INIT_TAILS (TAILS 0: no tail demotion).
        foreach (string n in names!.Split(','))
        {
            var p = n.Split('_');
            if (p.Length is 7 or 8 && p[0] == "alfu")
            {
                var o = new AdaptiveLfuOptions { MinRecencyWeight = double.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture), AdaptRate = double.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture), MaxRecencyWeight = double.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture), HalvingPeriodPerSlot = int.Parse(p[4], System.Globalization.CultureInfo.InvariantCulture), FrequencyCap = int.Parse(p[5], System.Globalization.CultureInfo.InvariantCulture), InitialRecencyWeight = double.Parse(p[6], System.Globalization.CultureInfo.InvariantCulture), DemoteTails = p.Length == 7 || p[7] == "1" };
                EvictionPolicies.Register(n, c => new AdaptiveLfuPolicy(c, o));
            }
        }

        int[] conversationCaps = Environment.GetEnvironmentVariable("TIERKV_EXPLORE_CAPS") is string capList
            ? [.. capList.Split(',').Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture))]
            : [1000, 5859, 20000, 50000, 100000];
        var traces = new List<(Traces.RequestTrace T, int[] Caps)> { (TraceFixtures.ConversationTrace!, conversationCaps) };
        for (int seed = 1; seed <= 3; seed++)
        {
            traces.Add((TraceFixtures.SyntheticChat(seed, 6000), [200, 1000, 3000, 10000]));
            traces.Add((TraceFixtures.SyntheticDocuments(seed, 6000), [100, 300, 1000, 3000, 10000]));
        }

        foreach (var (t, caps) in traces)
        {
            var res = CurveRunner.Run(t, [.. names.Split(','), CurveRunner.Belady], caps);
            var bound = res.Where(r => r.Policy == CurveRunner.Belady).ToDictionary(r => r.Capacity, r => r.HitRatio);
            foreach (var r in res)
            {
                output.WriteLine($"{t.Name} {r.Policy} {r.Capacity} {r.HitRatio:F4}");
                Assert.True(r.HitRatio <= bound[r.Capacity], $"{r.Policy} beats Belady on {t.Name} at {r.Capacity}");
            }
        }
    }
}
