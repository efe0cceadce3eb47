using CsCheck;
using TierKv.Rebalancing;

namespace TierKv.Core.Tests.Rebalancing;

public class CapacityRebalancerTests
{
    // A curve: up to 8 points of (size 1..400 slots, any hit ratio): real curves of other policies need not rise.
    private static readonly Gen<CapacityCurve> Curves =
        Gen.Select(Gen.Int[1, 400], Gen.Double[0, 1]).Array[1, 8].Select(ps => new CapacityCurve(ps.Select(p => ((double)p.Item1, p.Item2))));

    // Tenants: bounds, a start inside them, a weight; the total is what they start with.
    private static readonly Gen<(int Min, int Max, int Start, double Weight)[]> Tenants =
        Gen.Select(Gen.Int[1, 100], Gen.Int[0, 200], Gen.Double[0, 1], Gen.Double[0, 10_000])
            .Select((min, extra, at, w) => (min, min + extra, min + (int)(at * extra), w))
            .Array[2, 4];

    private static TenantCapacity[] State((int Min, int Max, int Start, double Weight)[] ts, int[] current, CapacityCurve[] curves) =>
        [.. ts.Select((t, i) => new TenantCapacity(t.Min, t.Max, current[i], t.Weight, curves[i]))];

    [Fact]
    public void Moves_never_leave_a_tenant_outside_its_minimum_and_maximum_and_keep_the_total()
    {
        Gen.Select(Tenants, Gen.Int[1, 50], Curves.Array[4].Array[1, 6], Gen.Double[0, 0.01]).Sample((ts, step, curveSeries, hysteresis) =>
        {
            var r = new CapacityRebalancer(new RebalanceOptions { StepSlots = step, Hysteresis = hysteresis, MinAccesses = 0 });
            int[] current = [.. ts.Select(t => t.Start)];
            int total = current.Sum();

            // The curves change between rounds (a workload that shifts); each round runs a few steps.
            foreach (var curves in curveSeries)
            {
                for (int s = 0; s < 20; s++)
                {
                    if (r.Next(State(ts, current, curves)) is not { } m)
                    {
                        break;
                    }

                    Assert.InRange(m.Slots, 1, step);
                    Assert.NotEqual(m.From, m.To);
                    current[m.From] -= m.Slots;
                    current[m.To] += m.Slots;
                    for (int i = 0; i < ts.Length; i++)
                    {
                        Assert.InRange(current[i], ts[i].Min, ts[i].Max);
                    }

                    Assert.Equal(total, current.Sum());
                }
            }
        });
    }

    [Fact]
    public void The_planner_finds_the_best_split_of_two_tenants()
    {
        Gen.Select(Tenants, Curves.Array[4]).Sample((ts, curves) =>
        {
            var state = State(ts, [.. ts.Select(t => t.Start)], curves);
            int total = ts.Sum(t => t.Start);
            var best = CapacityPlanner.Best(state, total, planUnits: 4096);
            Assert.Equal(total, best.Sum());
            double top = CapacityPlanner.Hits(state, best);
            if (ts.Length == 2)
            {
                for (int a = ts[0].Min; a <= ts[0].Max; a++)
                {
                    int b = total - a;
                    if (b >= ts[1].Min && b <= ts[1].Max)
                    {
                        Assert.True(CapacityPlanner.Hits(state, [a, b]) <= top + 1e-9, $"split {a}/{b} beats the planner's {best[0]}/{best[1]}");
                    }
                }
            }
        });
    }

    [Fact]
    public void Capacity_moves_from_a_scanning_tenant_to_one_that_gains()
    {
        var scan = new CapacityCurve([(100, 0), (400, 0)]); // never-reused blocks: no size helps
        var chat = new CapacityCurve([(100, 0.2), (200, 0.5), (400, 0.7)]);
        var r = new CapacityRebalancer(new RebalanceOptions { StepSlots = 10, MinAccesses = 0 });
        var m = r.Next([new TenantCapacity(20, 380, 200, 1000, scan), new TenantCapacity(20, 380, 200, 1000, chat)]);
        Assert.NotNull(m);
        Assert.Equal((0, 1, 10), (m.Value.From, m.Value.To, m.Value.Slots));
        Assert.True(m.Value.GainPerSlot > 0);
        Assert.Equal(0, m.Value.LossPerSlot);
        Assert.Equal([20, 380], r.Target);
    }

    [Fact]
    public void Stationary_curves_converge_monotonically_to_the_best_split_and_stop()
    {
        Gen.Select(Tenants, Curves.Array[4], Gen.Int[1, 30]).Sample((ts, curves, step) =>
        {
            var r = new CapacityRebalancer(new RebalanceOptions { StepSlots = step, Hysteresis = 0, MinAccesses = 0 });
            int[] current = [.. ts.Select(t => t.Start)];
            int moves = 0;
            while (r.Next(State(ts, current, curves)) is { } m)
            {
                current[m.From] -= m.Slots;
                current[m.To] += m.Slots;
                Assert.True(++moves <= 2000, "the rebalancer did not stop");
            }

            // It ended at the target, whose hits are the best there are, and stays there.
            var state = State(ts, current, curves);
            for (int i = 0; i < ts.Length; i++)
            {
                Assert.Equal(r.Target![i], current[i]);
            }

            double best = CapacityPlanner.Hits(state, CapacityPlanner.Best(state, current.Sum(), new RebalanceOptions().PlanUnits));
            Assert.True(CapacityPlanner.Hits(state, current) >= best - 1e-9);
            Assert.Null(r.Next(state));
        });
    }

    [Fact]
    public void Each_tenant_moves_one_way_on_stationary_curves()
    {
        Gen.Select(Tenants, Curves.Array[4], Gen.Int[1, 30]).Sample((ts, curves, step) =>
        {
            var r = new CapacityRebalancer(new RebalanceOptions { StepSlots = step, Hysteresis = 0, MinAccesses = 0 });
            int[] current = [.. ts.Select(t => t.Start)];
            var direction = new int[ts.Length];
            while (r.Next(State(ts, current, curves)) is { } m)
            {
                Assert.NotEqual(1, direction[m.From]);
                Assert.NotEqual(-1, direction[m.To]);
                direction[m.From] = -1;
                direction[m.To] = 1;
                current[m.From] -= m.Slots;
                current[m.To] += m.Slots;
            }
        });
    }

    [Fact]
    public void A_gain_within_the_hysteresis_moves_nothing()
    {
        var a = new CapacityCurve([(100, 0.50), (200, 0.501)]);
        var b = new CapacityCurve([(100, 0.50), (200, 0.50)]);
        var r = new CapacityRebalancer(new RebalanceOptions { StepSlots = 10, Hysteresis = 0.002, MinAccesses = 0 });
        Assert.Null(r.Next([new TenantCapacity(10, 190, 100, 1000, a), new TenantCapacity(10, 190, 100, 1000, b)]));
        Assert.Equal(0, r.Replans);
    }

    [Fact]
    public void Nothing_moves_before_the_curves_have_seen_enough_accesses()
    {
        var scan = new CapacityCurve([(100, 0)]);
        var chat = new CapacityCurve([(100, 0.2), (200, 0.5)]);
        var r = new CapacityRebalancer(new RebalanceOptions { MinAccesses = 1024 });
        Assert.Null(r.Next([new TenantCapacity(20, 180, 100, 500, scan), new TenantCapacity(20, 180, 100, 500, chat)]));
        Assert.NotNull(r.Next([new TenantCapacity(20, 180, 100, 600, scan), new TenantCapacity(20, 180, 100, 600, chat)]));
    }

    [Fact]
    public void A_curve_is_linear_between_its_points_and_flat_beyond_them()
    {
        var c = new CapacityCurve([(200, 0.6), (100, 0.4)]);
        Assert.Equal(0, c.HitRatioAt(0));
        Assert.Equal(0.2, c.HitRatioAt(50), 12);
        Assert.Equal(0.5, c.HitRatioAt(150), 12);
        Assert.Equal(0.6, c.HitRatioAt(1000), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CapacityCurve([(10, 1.5)]));
    }

    [Theory]
    [InlineData(0, 0.002, 1024, 256)]
    [InlineData(8, -1, 1024, 256)]
    [InlineData(8, 0.002, -1, 256)]
    [InlineData(8, 0.002, 1024, 1)]
    public void Bad_settings_are_refused_with_their_name(int step, double hysteresis, long minAccesses, int planUnits)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CapacityRebalancer(new RebalanceOptions { StepSlots = step, Hysteresis = hysteresis, MinAccesses = minAccesses, PlanUnits = planUnits }));
        Assert.StartsWith("Rebalance:", e.Message, StringComparison.Ordinal);
    }
}
