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

    private void AssertNotBelowLru(RequestTrace trace, int[] caps)
    {
        var res = CurveRunner.Run(trace, ["lru", EvictionPolicies.Default, "belady"], caps);
        for (int i = 0; i < caps.Length; i++)
        {
            double lru = res[i].HitRatio, def = res[caps.Length + i].HitRatio, min = res[(2 * caps.Length) + i].HitRatio;
            output.WriteLine($"{trace.Name} cap {caps[i]}: lru {lru:F4} {EvictionPolicies.Default} {def:F4} belady {min:F4}");
            Assert.True(def >= lru, $"{trace.Name} at {caps[i]} blocks: {EvictionPolicies.Default} {def:F4} < lru {lru:F4}");
            Assert.True(min >= def, $"{trace.Name} at {caps[i]} blocks: {EvictionPolicies.Default} {def:F4} beats Belady {min:F4}");
        }
    }
}
