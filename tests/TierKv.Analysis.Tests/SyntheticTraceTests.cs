using TierKv.Analysis.Simulation;
using TierKv.Analysis.Traces;
using TierKv.Eviction;
using Xunit.Abstractions;

namespace TierKv.Analysis.Tests;

/// <summary>The default policy against LRU and Belady on traces it was not designed on.</summary>
public class SyntheticTraceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Default_policy_is_not_below_lru_on_synthetic_chat_traces(int seed) =>
        AssertNotBelowLru(TraceFixtures.SyntheticChat(seed, 6000), [200, 1000, 3000, 10000]);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Default_policy_is_not_below_lru_on_synthetic_document_traces(int seed) =>
        AssertNotBelowLru(TraceFixtures.SyntheticDocuments(seed, 6000), [100, 300, 1000, 3000, 10000]);

    public static TheoryData<string, int> Stress => new()
    {
        { "twice", 1 }, { "twice", 2 }, { "phases", 1 }, { "phases", 2 }, { "loop", 1 }, { "toolagent", 1 }, { "toolagent", 2 }, { "longdocs", 1 }, { "longdocs", 2 },
    };

    /// <summary>
    /// Traces built against non-LRU policies, at capacities from 0.5% to 90% of their distinct blocks. The default may
    /// lose to LRU by at most 0.0005 (the 4th decimal that analyze prints) where a switch of expert costs a few hits;
    /// on the phase-change and long-document traces by at most 0.003: where the popular set changes wholesale every few
    /// turnovers of the cache, or LRU and the reuse credits are within 0.0003 of each other, the leader's reaction and
    /// its switches cost hits (a known limit: docs/analysis.md).
    /// </summary>
    [Theory]
    [MemberData(nameof(Stress))]
    public void Default_policy_is_not_below_lru_on_stress_traces(string kind, int seed)
    {
        var trace = Trace(kind, seed);
        int[] caps = SpreadCapacities(trace);
        // The loop: hedge (lc leading) is 0.0008 below LRU at 9,173 blocks (40% of the distinct blocks, just above the
        // loop's size), where the fast retreat moves it to lru-prefix and back while lc learns (docs/analysis.md, hedge).
        AssertNotBelowLru(trace, caps, tolerance: kind switch { "longdocs" or "phases" => 0.003, "loop" => 0.001, _ => 0.0005 });
    }

    /// <summary>
    /// Two public Mooncake traces the policy was not developed on (data/mooncake/SOURCE.md): the FAST'25 synthetic
    /// trace and a slice of the arXiv trace, at the capacities of the analyze check and at 1% to 50% of their distinct
    /// blocks, within the 4th decimal. Below 1,000 blocks on the synthetic trace (a cache of fewer than about 30 of its
    /// requests of 30 blocks) a few bursts of hits decide every score and the leader's switches can cost more than they
    /// win: at 100, 250 and 731 blocks it is 0.0007, 0.0018 and 0.0009 below LRU (docs/analysis.md, limits).
    /// </summary>
    [Theory]
    [InlineData("synthetic_trace.jsonl")]
    [InlineData("arxiv_slice.jsonl")]
    public void Default_policy_is_not_below_lru_on_public_mooncake_traces(string file)
    {
        var trace = TraceFiles.Read(Path.Combine(TraceFixtures.DataDirectory, "mooncake", file));
        int[] caps = [.. new[] { 1000, 5859, 20000, 50000 }.Concat(new[] { 0.01, 0.02, 0.05, 0.1, 0.2, 0.5 }.Select(f => (int)(f * trace.UniqueBlocks))).Distinct().Order()];
        AssertNotBelowLru(trace, caps, tolerance: 0.0005);
    }

    /// <summary>
    /// The learned credit (<c>lc</c>, not the default) on the generated traces where its tails must be learned, not
    /// assumed dead (keys that come back once, soon, as single-block requests) and where popularity shifts, and on the
    /// public traces. (On the loop trace it is below LRU near the loop's size: docs/analysis.md, limits.)
    /// </summary>
    [Theory]
    [InlineData("twice", 1)]
    [InlineData("twice", 2)]
    [InlineData("phases", 1)]
    [InlineData("toolagent", 1)]
    [InlineData("synthetic_trace.jsonl", 0)]
    [InlineData("arxiv_slice.jsonl", 0)]
    public void Learned_credit_is_not_below_lru_where_tails_come_back_and_on_public_traces(string kind, int seed)
    {
        var trace = Trace(kind, seed);
        AssertNotBelowLru(trace, SpreadCapacities(trace), tolerance: 0.0005, policy: "lc");
    }

    /// <summary>A generated stress trace by kind and seed, or a public trace of data/mooncake/ by file name.</summary>
    private static RequestTrace Trace(string kind, int seed) => kind switch
    {
        "twice" => StressTraces.Twice(seed),
        "phases" => StressTraces.Phases(seed),
        "loop" => StressTraces.Loop(seed),
        "toolagent" => StressTraces.ToolAgent(seed),
        "longdocs" => StressTraces.LongDocuments(seed),
        _ => TraceFiles.Read(Path.Combine(TraceFixtures.DataDirectory, "mooncake", kind)),
    };

    /// <summary>Capacities from 0.5% to 90% of the trace's distinct blocks.</summary>
    private static int[] SpreadCapacities(RequestTrace trace) =>
        [.. new[] { 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.9 }.Select(f => Math.Max(10, (int)(f * trace.UniqueBlocks)))];

    private void AssertNotBelowLru(RequestTrace trace, int[] caps, double tolerance = 0, string? policy = null)
    {
        policy ??= EvictionPolicies.Default;
        var res = CurveRunner.Run(trace, ["lru", policy, "belady"], caps);
        for (int i = 0; i < caps.Length; i++)
        {
            double lru = res[i].HitRatio, def = res[caps.Length + i].HitRatio, min = res[(2 * caps.Length) + i].HitRatio;
            output.WriteLine($"{trace.Name} cap {caps[i]}: lru {lru:F4} {policy} {def:F4} belady {min:F4}");
            Assert.True(def >= lru - tolerance, $"{trace.Name} at {caps[i]} blocks: {policy} {def:F4} < lru {lru:F4}");
            Assert.True(min >= def, $"{trace.Name} at {caps[i]} blocks: {policy} {def:F4} beats Belady {min:F4}");
        }
    }
}
