using CsCheck;
using TierKv.Eviction;

namespace TierKv.Core.Tests.Eviction;

public class LearnedCreditPolicyTests
{
    // A request: a chain and how deep it reads (depths 0..depth in order, as a prefix lookup does).
    private static readonly Gen<(int Capacity, (int Chain, int Depth)[] Requests)> Requests =
        Gen.Select(Gen.Int[1, 24], Gen.Select(Gen.Int[0, 7], Gen.Int[0, 7]).Array[1, 120]);

    [Fact]
    public void Is_created_by_name_with_and_without_the_prefix_suffix_and_refuses_bad_arguments()
    {
        Assert.IsType<LearnedCreditPolicy>(EvictionPolicies.Create("lc", 10));
        Assert.Equal("lc-prefix", EvictionPolicies.Create("LC-prefix", 10).Name);
        Assert.Contains("lc", EvictionPolicies.BaseNames);
        Assert.NotEqual("lc", EvictionPolicies.Default);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearnedCreditPolicy(0));
        var p = new LearnedCreditPolicy(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => p.RetentionOf(4, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.RetentionOf(0, 14));
        Assert.Equal(0, p.RetentionOf(3, 13));
        Assert.False(p.Learned);
    }

    [Fact]
    public void Before_learning_it_evicts_exactly_what_lru_by_request_with_tail_demotion_evicts()
    {
        // Before learning every retention time is 0, so a chunk ranks at the start time of the request that last read it,
        // deeper chunks of one request first; a request's last chunk, if it was new, drops below all other chunks (oldest
        // such tail first) once the next request begins (after that request's first eviction, which comes before its first
        // insert tells the policy that a new request began).
        Requests.Sample(sc =>
        {
            // Tail demotion forced on (by default it follows the evidence that tails rarely come back; see below).
            var h = new PolicyHarness(new LearnedCreditPolicy(sc.Capacity, demoteTailsBeforeLearning: true));
            var rank = new Dictionary<int, (int Group, long Start, int Depth)>();
            var seen = new HashSet<int>();
            long clock = 0;
            int pendingTail = -1;
            foreach (var (chain, depth) in sc.Requests)
            {
                long start = clock;
                for (int d = 0; d <= depth; d++)
                {
                    int key = PolicyHarness.Key(chain, d);
                    int expected = -1;
                    if (!rank.ContainsKey(key) && rank.Count == sc.Capacity)
                    {
                        expected = rank.MinBy(kv => (kv.Value.Group, kv.Value.Start, -kv.Value.Depth)).Key;
                        rank.Remove(expected);
                    }

                    Assert.Equal(expected, h.Access(key, out _));
                    if (d == 0 && pendingTail >= 0 && rank.TryGetValue(pendingTail, out var r))
                    {
                        rank[pendingTail] = r with { Group = 0 };
                    }

                    rank[key] = (1, start, d);
                    clock++;
                }

                int last = PolicyHarness.Key(chain, depth);
                pendingTail = seen.Add(last) ? last : -1;
                for (int d = 0; d < depth; d++)
                {
                    seen.Add(PolicyHarness.Key(chain, d));
                }
            }

            Assert.False(((LearnedCreditPolicy)h.Policy).Learned);
        });
    }

    [Fact]
    public void Every_victim_is_a_resident_unpinned_slot_before_and_after_learning()
    {
        // Seeded workloads long enough for learning to start (10,000 accesses), with pins and deletes mixed in; the
        // harness throws when the policy names a pinned or empty slot. Pins are released when an access is rejected (a
        // reader finishes): a pin held on a key that never comes back would otherwise reject every later insert into a
        // small tier, the policy would see too few accesses to learn, and whether it learned depended on the random seed
        // (the cause of an earlier flaky failure). The run goes on until retention is learned, then 2,000 requests more.
        Gen.Select(Gen.Int[1, 40], Gen.Int[0, int.MaxValue]).Sample(sc =>
        {
            var (capacity, seed) = sc;
            var policy = new LearnedCreditPolicy(capacity);
            var h = new PolicyHarness(policy);
            var rng = new Random(seed);
            var pinned = new HashSet<int>();
            int after = 0;
            for (int n = 0; n < 40_000 && after < 2_000; n++)
            {
                after += policy.Learned ? 1 : 0;
                // Chains drawn with a skew, so that some come back often and some never.
                int chain = (int)(Math.Pow(rng.NextDouble(), 3) * 300);
                int depth = rng.Next(8);
                for (int d = 0; d <= depth; d++)
                {
                    int key = PolicyHarness.Key(chain, d);
                    switch (rng.Next(20))
                    {
                        case 0 when h.IsResident(key):
                            h.SetPinned(key, true);
                            pinned.Add(key);
                            break;
                        case 1 when h.IsResident(key):
                            h.SetPinned(key, false);
                            pinned.Remove(key);
                            break;
                        case 2:
                            h.Delete(key);
                            pinned.Remove(key);
                            break;
                    }

                    bool allPinned = h.Count == capacity && h.AllPinned();
                    bool wasResident = h.IsResident(key);
                    h.Access(key, out bool rejected);
                    Assert.Equal(!wasResident && allPinned, rejected);
                    Assert.True(h.Count <= capacity);
                    if (rejected)
                    {
                        foreach (int k in pinned)
                        {
                            h.SetPinned(k, false);
                        }

                        pinned.Clear();
                    }
                }
            }

            // The "after learning" half: the workload is long enough for retention to be learned.
            Assert.True(policy.Learned, $"no retention learned at capacity {capacity}, seed {seed} after {policy.Accesses} accesses");
        }, iter: 12);
    }

    [Fact]
    public void Learns_retention_times_on_a_workload_with_reuse_and_keeps_new_one_off_chunks_short()
    {
        var policy = new LearnedCreditPolicy(50);
        var h = new PolicyHarness(policy);
        var rng = new Random(3);
        int scan = 1000;
        for (int n = 0; n < 20_000; n++)
        {
            // Hot prefixes (chains 0..29, read again and again) between one-off requests on fresh chains.
            int chain = rng.Next(2) == 0 ? rng.Next(30) : scan++;
            int depth = rng.Next(4);
            for (int d = 0; d <= depth; d++)
            {
                h.Access(PolicyHarness.Key(chain, d), out _);
            }
        }

        Assert.True(policy.Learned);
        Assert.True(policy.Accesses > 10_000);
        long maxOld = 0;
        for (int feature = 0; feature < 14; feature++)
        {
            maxOld = Math.Max(maxOld, policy.RetentionOf(3, feature));
        }

        // Chunks read many times before earn a retention; the first sight of a one-off chain earns none or less.
        Assert.True(maxOld > 0);
        Assert.True(policy.RetentionOf(0, 2) <= maxOld);
    }

    [Fact]
    public void Fills_the_capacity_left_past_retention_only_below_nine_tenths_within_retention_and_at_a_bounded_cost()
    {
        // Hot chains read again and again, between documents (new chains of 8 blocks) of which a third are read again
        // (all but their tail) about 1,500 accesses later: the priced plan keeps the hot chains and leaves much of the
        // capacity to chunks past their retention; the fill gives the documents part of their long retention.
        var filled = new LearnedCreditPolicy(200);
        var priced = new LearnedCreditPolicy(200, LearnedCreditOptions.Default with { Fill = false });
        var hf = new PolicyHarness(filled);
        var hp = new PolicyHarness(priced);
        var rng = new Random(5);
        var returns = new Queue<(long At, int Chain)>();
        int next = 1000, fills = 0, stops = 0;
        long hitsFilled = 0, hitsPriced = 0;
        for (int n = 0; n < 12_000; n++)
        {
            int chain, depth;
            if (returns.Count > 0 && returns.Peek().At <= filled.Accesses)
            {
                (chain, depth) = (returns.Dequeue().Chain, 6);
            }
            else if (rng.Next(10) < 3)
            {
                (chain, depth) = (rng.Next(30), rng.Next(4));
            }
            else
            {
                (chain, depth) = (next++, 7);
                if (rng.Next(3) == 0)
                {
                    returns.Enqueue((filled.Accesses + 1500, chain));
                }
            }

            for (int d = 0; d <= depth; d++)
            {
                int key = PolicyHarness.Key(chain, d);
                hitsFilled += hf.IsResident(key) ? 1 : 0;
                hitsPriced += hp.IsResident(key) ? 1 : 0;
                hf.Access(key, out _);
                hp.Access(key, out _);
                if (filled.Accesses % 4096 == 0 && filled.Learned)
                {
                    Assert.Equal(0, priced.FillFraction);
                    fills += filled.FillFraction > 0 ? 1 : 0;
                    stops += filled.MeasuredOccupancy >= 0.9 ? 1 : 0;
                    Assert.False(filled.FillFraction > 0 && filled.MeasuredOccupancy >= 0.9, $"filled at {filled.Accesses} with {filled.MeasuredOccupancy:F3} within retention");
                }
            }
        }

        // Both regimes happen here: the fill overshoots what was modelled (its periods end with the capacity nearly all
        // within retention) and stops for a period. On this workload it costs hits (1.6% at the time of writing): the
        // reserve of chunks past their retention is worth more than the model counts (docs/analysis.md); the bound
        // keeps that cost from growing unnoticed.
        Assert.True(fills > 0 && stops > 0, $"fills {fills}, stops {stops}");
        Assert.True(hitsFilled >= 0.97 * hitsPriced, $"filled {hitsFilled} < 0.97 x priced {hitsPriced}");
    }
}
