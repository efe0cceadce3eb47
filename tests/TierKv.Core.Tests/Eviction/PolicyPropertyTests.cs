using CsCheck;
using TierKv.Eviction;

namespace TierKv.Core.Tests.Eviction;

public class PolicyPropertyTests
{
    public static TheoryData<string> AllPolicies => ["lru", "s3fifo", "arc", "alfu", "leader", "lc", "lru-prefix", "s3fifo-prefix", "arc-prefix", "alfu-prefix", "leader-prefix", "lc-prefix", "hedge"];

    // An operation: kind (access, pin, unpin, delete) on key (chain 0..5, depth 0..7).
    private static readonly Gen<(int Capacity, (int Kind, int Chain, int Depth)[] Ops)> Scenarios =
        Gen.Select(Gen.Int[1, 12], Gen.Select(Gen.Int[0, 9], Gen.Int[0, 5], Gen.Int[0, 7]).Array[1, 300]);

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void Capacity_is_never_exceeded_and_pinned_chunks_are_never_evicted(string name)
    {
        Scenarios.Sample(sc =>
        {
            var h = new PolicyHarness(EvictionPolicies.Create(name, sc.Capacity));
            foreach (var (kind, chain, depth) in sc.Ops)
            {
                // Throws when a pinned or empty slot is chosen, or an insert is rejected while some chunk is evictable.
                h.Apply(kind, PolicyHarness.Key(chain, depth));
                Assert.True(h.Count <= sc.Capacity);
            }
        });
    }

    [Fact]
    public void Lru_evicts_exactly_what_a_reference_list_evicts()
    {
        Gen.Select(Gen.Int[1, 10], Gen.Int[0, 30].Array[1, 400]).Sample(sc =>
        {
            var h = new PolicyHarness(new LruPolicy(sc.Item1));
            var reference = new LinkedList<int>();
            foreach (int key in sc.Item2)
            {
                int expected = -1;
                if (reference.Contains(key))
                {
                    reference.Remove(key);
                }
                else if (reference.Count == sc.Item1)
                {
                    expected = reference.First!.Value;
                    reference.RemoveFirst();
                }

                reference.AddLast(key);
                Assert.Equal(expected, h.Access(key * 1000, out _) is int e and >= 0 ? e / 1000 : -1);
            }
        });
    }

    [Fact]
    public void Alfu_at_its_largest_recency_weight_behaves_like_lru()
    {
        // With a weight so large that the credit f x C / a vanishes, the rank is the access time: exactly LRU (with tail
        // demotion off: the harness's single-block keys are all leaves, so each would count as a request tail).
        var options = new AdaptiveLfuOptions { InitialRecencyWeight = 1e300, MinRecencyWeight = 1e300, MaxRecencyWeight = 1e300, AdaptRate = 0, DemoteTails = false };
        Gen.Select(Gen.Int[1, 10], Gen.Int[0, 30].Array[1, 400]).Sample(sc =>
        {
            var lru = new PolicyHarness(new LruPolicy(sc.Item1));
            var alfu = new PolicyHarness(new AdaptiveLfuPolicy(sc.Item1, options));
            foreach (int key in sc.Item2)
            {
                Assert.Equal(lru.Access(key * 1000, out _), alfu.Access(key * 1000, out _));
            }
        });
    }

    [Theory]
    [InlineData("lru-prefix")]
    [InlineData("s3fifo-prefix")]
    [InlineData("arc-prefix")]
    [InlineData("alfu-prefix")]
    [InlineData("leader-prefix")]
    [InlineData("lc-prefix")]
    [InlineData("hedge")]
    public void Prefix_aware_policies_evict_descendants_before_ancestors(string name)
    {
        Gen.Select(Gen.Int[2, 12], Gen.Select(Gen.Int[0, 5], Gen.Int[0, 7]).Array[1, 300]).Sample(sc =>
        {
            var h = new PolicyHarness(EvictionPolicies.Create(name, sc.Item1));
            foreach (var (chain, depth) in sc.Item2)
            {
                // Access a whole prefix, as a request does: ancestors first.
                for (int d = 0; d <= depth; d++)
                {
                    int key = PolicyHarness.Key(chain, d);
                    bool leafExists = !h.IsResident(key) && h.Count == sc.Item1 && h.AnyEvictableLeaf();
                    var residentBefore = h.Resident.ToHashSet();
                    int evicted = h.Access(key, out _);
                    if (evicted >= 0 && leafExists)
                    {
                        Assert.False(residentBefore.Contains(evicted + 1), $"{name} evicted {evicted}, which had a resident child, while a leaf was evictable");
                    }
                }
            }
        });
    }
}
