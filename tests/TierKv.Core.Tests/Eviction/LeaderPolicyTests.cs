using CsCheck;
using TierKv.Eviction;

namespace TierKv.Core.Tests.Eviction;

public class LeaderPolicyTests
{
    private static readonly LeaderExpert Lru = new("lru", c => new LruPolicy(c));

    [Fact]
    public void With_lru_as_its_only_expert_it_evicts_exactly_what_lru_evicts()
    {
        var options = new LeaderPolicyOptions { Experts = [Lru] };
        Gen.Select(Gen.Int[1, 10], Gen.Select(Gen.Int[0, 5], Gen.Int[0, 4]).Array[1, 400]).Sample(sc =>
        {
            var lru = new PolicyHarness(new LruPolicy(sc.Item1));
            var leader = new PolicyHarness(new LeaderPolicy(sc.Item1, options));
            foreach (var (chain, depth) in sc.Item2)
            {
                int key = PolicyHarness.Key(chain, depth);
                Assert.Equal(lru.Access(key, out _), leader.Access(key, out _));
            }
        });
    }

    [Fact]
    public void Follows_a_reuse_credit_when_scans_flush_lru_and_hits_more_than_lru()
    {
        // A hot set of 40 keys, each read again within about 200 accesses, between scans of never-repeated keys: an LRU
        // of 100 slots is flushed by every scan, a credit for keys seen before keeps the hot set.
        const int capacity = 100;
        var stream = new List<int>();
        var rng = new Random(11);
        int next = 1000;
        for (int round = 0; round < 400; round++)
        {
            for (int i = 0; i < 20; i++)
            {
                stream.Add(PolicyHarness.Key(rng.Next(40), 0));
            }

            for (int i = 0; i < 150; i++)
            {
                stream.Add(PolicyHarness.Key(next++, 0));
            }
        }

        var options = new LeaderPolicyOptions { Experts = [Lru, LeaderExpert.Credit(0.25)] };
        var policy = new LeaderPolicy(capacity, options);
        long lruHits = Hits(new LruPolicy(capacity), stream);
        long leaderHits = Hits(policy, stream);
        Assert.Equal("alfu-0.25", policy.LeaderName);
        Assert.InRange(policy.Switches, 1, 3); // it moves once the lead is clear, and does not flap
        Assert.True(leaderHits > lruHits * 2, $"leader {leaderHits}, lru {lruHits}");
        Assert.Equal(0, policy.StrangerCount);
        Assert.Equal(policy.ExpertHits[1], policy.TierHits, 0.05 * policy.ExpertHits[1]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void After_a_fast_retreat_in_the_warm_up_the_fast_return_follows_the_initial_leader_again(bool fastReturn)
    {
        // Scans between reads of a hot set (the credit wins), then a stretch where every key comes back once, soon
        // (LRU wins: the tier retreats), then scans and the hot set again, all within the warm-up.
        const int capacity = 100;
        var stream = new List<int>();
        var rng = new Random(3);
        int next = 100_000;
        void ScansAndHotSet(int rounds)
        {
            for (int round = 0; round < rounds; round++)
            {
                for (int i = 0; i < 20; i++)
                {
                    stream.Add(PolicyHarness.Key(rng.Next(40), 0));
                }

                for (int i = 0; i < 150; i++)
                {
                    stream.Add(PolicyHarness.Key(next++, 0));
                }
            }
        }

        ScansAndHotSet(100);
        for (int block = 0; block < 100; block++)
        {
            // 80 new keys, then the same 80 again: within LRU's 100 slots, beyond what the credit leaves beside the hot set.
            for (int pass = 0; pass < 2; pass++)
            {
                for (int i = 0; i < 80; i++)
                {
                    stream.Add(PolicyHarness.Key(next + i, 0));
                }
            }

            next += 80;
        }

        ScansAndHotSet(200);
        var options = new LeaderPolicyOptions { Experts = [Lru, LeaderExpert.Credit(0.25)], InitialLeader = 1, WarmupTurnovers = 10_000, FastReturn = fastReturn };
        var policy = new LeaderPolicy(capacity, options);
        long hits = Hits(policy, stream);
        Assert.True(policy.Switches >= 1, "the tier retreats to LRU while keys come back once");
        Assert.Equal(fastReturn ? "alfu-0.25" : "lru", policy.LeaderName);
        if (fastReturn)
        {
            var without = new LeaderPolicy(capacity, options with { FastReturn = false });
            Assert.True(hits > Hits(without, stream), "following the credit again wins the hot set's hits back");
        }
    }

    [Fact]
    public void Stays_with_lru_when_keys_come_back_once_soon_and_never_again()
    {
        // Every key is read twice, the second time soon after the first, then never: a credit for "seen before" keeps
        // dead keys, LRU is right. The leader must end up with LRU and lose (almost) nothing against it.
        const int capacity = 64;
        var stream = new List<int>();
        var rng = new Random(5);
        var pending = new List<int>();
        int next = 0;
        for (int i = 0; i < 60000; i++)
        {
            if (pending.Count > 0 && rng.Next(2) == 0)
            {
                int j = Math.Max(0, pending.Count - 1 - (int)(-Math.Log(1 - rng.NextDouble()) * 20));
                stream.Add(pending[j]);
                pending.RemoveAt(j);
            }
            else
            {
                int key = PolicyHarness.Key(next++, 0);
                stream.Add(key);
                pending.Add(key);
            }
        }

        var options = new LeaderPolicyOptions { Experts = [Lru, LeaderExpert.Credit(0.0625)] };
        var policy = new LeaderPolicy(capacity, options);
        long lruHits = Hits(new LruPolicy(capacity), stream);
        long leaderHits = Hits(policy, stream);
        Assert.True(policy.ExpertHits[1] < policy.ExpertHits[0], "the stream should favour LRU");
        Assert.Equal("lru", policy.LeaderName);
        Assert.InRange(policy.Switches, 0, 2);
        Assert.True(leaderHits >= lruHits * 0.995, $"leader {leaderHits}, lru {lruHits}");
    }

    [Fact]
    public void Bad_settings_are_refused_with_the_setting_named()
    {
        Assert.Contains("expert", Assert.Throws<ArgumentException>(() => new LeaderPolicy(4, new LeaderPolicyOptions { Experts = [] })).Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("HalfLifeTurnovers", Assert.Throws<ArgumentOutOfRangeException>(() => new LeaderPolicy(4, new LeaderPolicyOptions { HalfLifeTurnovers = 0 })).ParamName);
        Assert.Equal("SwitchMargin", Assert.Throws<ArgumentOutOfRangeException>(() => new LeaderPolicy(4, new LeaderPolicyOptions { SwitchMargin = -1 })).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => LeaderExpert.Credit(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LeaderExpert.Credit(double.PositiveInfinity));
    }

    [Fact]
    public void Default_experts_are_named_for_reports()
    {
        var policy = new LeaderPolicy(8);
        Assert.Equal("leader", policy.Name);
        Assert.Equal(["lru", "alfu-1", "alfu-0.25", "alfu-0.0625", "s3fifo", "arc"], LeaderPolicyOptions.Default.Experts.Select(e => e.Name));
        Assert.Equal("lru", policy.LeaderName);
    }

    private static long Hits(EvictionPolicy policy, List<int> stream)
    {
        var h = new PolicyHarness(policy);
        long hits = 0;
        foreach (int key in stream)
        {
            if (h.IsResident(key))
            {
                hits++;
            }

            h.Access(key, out _);
        }

        return hits;
    }
}
