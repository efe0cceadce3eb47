using CsCheck;
using TierKv.Eviction;
using Xunit.Abstractions;

namespace TierKv.Core.Tests.Eviction;

/// <summary>Policies follow the tier's slot limit (<see cref="EvictionPolicy.Resize"/>; docs/operations.md, "DRAM shared among tenants").</summary>
public class PolicyResizeTests(ITestOutputHelper output)
{
    /// <summary>Every registered policy, plain and prefix-aware.</summary>
    public static TheoryData<string> AllPolicies
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string name in EvictionPolicies.BaseNames.Order(StringComparer.Ordinal))
            {
                data.Add(name);
                data.Add(name + "-prefix");
            }

            return data;
        }
    }

    /// <summary>Policies whose order does not depend on the sketch widths fixed at construction: exact after a resize.</summary>
    public static TheoryData<string> ExactPolicies => ["lru", "lru-prefix", "s3fifo", "s3fifo-prefix", "arc", "arc-prefix", "alfu", "alfu-prefix", "leader", "leader-prefix"];

    // An operation: kind (access, pin, unpin, delete, resize) on key (chain 0..5, depth 0..7), and a new limit for a resize.
    private static readonly Gen<(int Pool, (int Kind, int Chain, int Depth, int Limit)[] Ops)> Scenarios =
        Gen.Select(Gen.Int[2, 12], Gen.Select(Gen.Int[0, 11], Gen.Int[0, 5], Gen.Int[0, 7], Gen.Int[1, 12]).Array[1, 300]);

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void After_a_resize_the_tier_never_holds_more_than_the_limit_and_victims_are_valid(string name)
    {
        Scenarios.Sample(sc =>
        {
            var h = new PolicyHarness(EvictionPolicies.Create(name, sc.Pool));
            int ceiling = sc.Pool;
            foreach (var (kind, chain, depth, newLimit) in sc.Ops)
            {
                if (kind >= 10)
                {
                    int limit = Math.Min(newLimit, sc.Pool);
                    var evicted = h.Resize(limit); // throws when a pinned or empty slot is chosen
                    Assert.Equal(limit, h.Policy.Limit);
                    // Trimming stops short of the limit only when every chunk left is pinned.
                    Assert.True(h.Count <= limit || h.AllPinned(), $"{name}: {h.Count} held after a resize to {limit}");
                    Assert.All(evicted, k => Assert.False(h.IsResident(k)));
                    ceiling = Math.Max(limit, h.Count);
                }
                else
                {
                    // Pins, unpins, deletes and accesses (checked as in PolicyPropertyTests) at the current limit.
                    h.Apply(kind, PolicyHarness.Key(chain, depth));
                }

                Assert.True(h.Count <= ceiling, $"{name}: {h.Count} held, limit {h.Policy.Limit}");
                ceiling = Math.Max(h.Policy.Limit, h.Count);
            }
        });
    }

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void Resize_refuses_a_limit_outside_the_pool(string name)
    {
        var policy = EvictionPolicies.Create(name, 8);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => policy.Resize(9));
        Assert.Contains("1 to its 8 slots", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => policy.Resize(0));
        Assert.Equal(8, policy.Limit);
    }

    [Theory]
    [MemberData(nameof(ExactPolicies))]
    public void A_policy_resized_before_use_evicts_exactly_as_one_built_for_the_limit(string name)
    {
        // The tier takes the same slots in the same order either way, so the same state gives the same victims.
        var trace = ChatTrace(seed: 11, requests: 3000, sessions: 400);
        var resized = new PolicyHarness(EvictionPolicies.Create(name, 1024));
        resized.Resize(256);
        var built = new PolicyHarness(EvictionPolicies.Create(name, 256));
        foreach (int key in trace)
        {
            Assert.Equal(built.Access(key, out _), resized.Access(key, out _));
        }
    }

    [Theory]
    [InlineData("lc", 0.002)]
    [InlineData("lc-prefix", 0.002)]
    [InlineData("hedge", 0.002)]
    public void A_learning_policy_resized_before_use_hits_nearly_as_one_built_for_the_limit(string name, double tolerance)
    {
        // lc's frequency sketch is as wide as the pool needs (fewer collisions than at the limit's width, so a few keys
        // read "never seen" that would read "seen" in the narrower sketch); the rest follows the limit exactly.
        var trace = ChatTrace(seed: 12, requests: 8000, sessions: 600);
        double resized = HitRatio(EvictionPolicies.Create(name, 4096), 512, trace, from: 0);
        double built = HitRatio(EvictionPolicies.Create(name, 512), 512, trace, from: 0);
        output.WriteLine($"{name}: resized {resized:F4}, built for the limit {built:F4}");
        Assert.True(Math.Abs(resized - built) <= tolerance, $"{name}: resized {resized:F4}, built for the limit {built:F4}");
    }

    [Theory]
    [InlineData("lru", 0.0)]
    [InlineData("s3fifo", 0.002)]
    [InlineData("arc", 0.002)]
    [InlineData("alfu", 0.002)]
    [InlineData("leader", 0.002)]
    [InlineData("lc", 0.002)]
    [InlineData("hedge", 0.002)]
    public void A_policy_shrunk_while_serving_hits_nearly_as_one_built_for_the_limit(string name, double tolerance)
    {
        // Shrunk to a quarter after a quarter of the trace (what it learned at the pool's size stays), compared over the
        // second half. LRU keeps exactly the newest chunks, as an LRU of the limit would: equal. The others are not exact:
        // what each kept and learned before the shrink differs (measured within 0.0001 on this trace; lc's histograms
        // rebuilt by spreading its old buckets were 0.0083 below, which this tolerance catches).
        var trace = ChatTrace(seed: 13, requests: 12000, sessions: 600);
        double resized = HitRatio(EvictionPolicies.Create(name, 2048), 512, trace, from: trace.Length / 2, resizeAt: trace.Length / 4);
        double built = HitRatio(EvictionPolicies.Create(name, 512), 512, trace, from: trace.Length / 2);
        output.WriteLine($"{name}: resized {resized:F4}, built for the limit {built:F4}");
        Assert.True(Math.Abs(resized - built) <= tolerance, $"{name}: resized {resized:F4}, built for the limit {built:F4}");
    }

    [Theory]
    [InlineData("lc", 0.002)]
    [InlineData("hedge", 0.002)]
    [InlineData("s3fifo", 0.002)]
    [InlineData("arc", 0.002)]
    public void A_policy_shrunk_and_grown_back_hits_at_least_nearly_as_one_that_kept_its_size(string name, double tolerance)
    {
        // Down to a quarter for a quarter of the trace, then back to the pool: over the last third it hits at least nearly
        // as well as a policy that stayed at the pool's size (what it learned while small is kept; the contents refill).
        // One-sided: the paths differ, and hedge's leader switched at other times and came out 0.0034 above on this trace.
        var trace = ChatTrace(seed: 14, requests: 12000, sessions: 600);
        var h = new PolicyHarness(EvictionPolicies.Create(name, 2048));
        var same = new PolicyHarness(EvictionPolicies.Create(name, 2048));
        long hits = 0, sameHits = 0, accesses = 0;
        for (int i = 0; i < trace.Length; i++)
        {
            if (i == trace.Length / 4 || i == trace.Length / 2)
            {
                h.Resize(i == trace.Length / 4 ? 512 : 2048);
            }

            bool counted = i >= trace.Length * 2 / 3;
            accesses += counted ? 1 : 0;
            hits += counted && h.IsResident(trace[i]) ? 1 : 0;
            sameHits += counted && same.IsResident(trace[i]) ? 1 : 0;
            h.Access(trace[i], out _);
            same.Access(trace[i], out _);
        }

        double resized = hits / (double)accesses, kept = sameHits / (double)accesses;
        output.WriteLine($"{name}: shrunk and grown back {resized:F4}, kept its size {kept:F4}");
        Assert.True(resized >= kept - tolerance, $"{name}: shrunk and grown back {resized:F4}, kept its size {kept:F4}");
    }

    /// <summary>Hit ratio over accesses from <paramref name="from"/> on; the limit applies from <paramref name="resizeAt"/> (0: from the start).</summary>
    private static double HitRatio(EvictionPolicy policy, int limit, int[] trace, int from, int resizeAt = 0)
    {
        var h = new PolicyHarness(policy);
        long hits = 0, accesses = 0;
        for (int i = 0; i < trace.Length; i++)
        {
            if (i == resizeAt)
            {
                h.Resize(limit);
            }

            bool hit = h.IsResident(trace[i]);
            h.Access(trace[i], out _);
            if (i >= from)
            {
                accesses++;
                hits += hit ? 1 : 0;
            }
        }

        return hits / (double)accesses;
    }

    /// <summary>
    /// Chat-like requests of prefix chains (keys of <see cref="PolicyHarness.Key"/>): a skewed choice of session, whose
    /// conversation grows by a few blocks each turn and starts over now and then; each request reads its whole prefix.
    /// </summary>
    internal static int[] ChatTrace(int seed, int requests, int sessions)
    {
        var rng = new Random(seed);
        var length = new int[sessions];
        var keys = new List<int>();
        for (int r = 0; r < requests; r++)
        {
            double u = rng.NextDouble();
            int s = (int)(sessions * u * u);
            length[s] = length[s] >= 40 || rng.Next(8) == 0 ? 1 + rng.Next(4) : length[s] + 1 + rng.Next(3);
            for (int d = 0; d < length[s]; d++)
            {
                keys.Add(PolicyHarness.Key(s, d));
            }
        }

        return [.. keys];
    }
}
