using System.Globalization;
using TierKv.Keys;

namespace TierKv.Server.Tests;

/// <summary><c>Server:Rebalance</c> (docs/operations.md, "DRAM shared among tenants") wired into the daemon.</summary>
public class TenantRebalanceTests
{
    private const string TokenA = "token-of-tenant-a-0123456789";
    private const string TokenB = "token-of-tenant-b-0123456789";
    private const long Record = 8192; // a value record of a 4 KiB slot: the value, its prefix, rounded up to 4 KiB

    private static ServerOptions Options(bool enabled = true, long? minA = 8 * Record) => new()
    {
        SmallValueBytes = 0,
        SlotBytes = 4096,
        DramBytes = 32 * Record,
        Rebalance = new ServerRebalanceOptions { Enabled = enabled, IntervalSeconds = 3600, StepBytes = 4 * Record },
        Curves = new ServerCurveOptions(),
        Tenants =
        [
            new TenantOptions { Name = "a", Token = TokenA, QuotaBytes = 32 * Record, MinQuotaBytes = minA, MaxQuotaBytes = 56 * Record },
            new TenantOptions { Name = "b", Token = TokenB, QuotaBytes = 32 * Record, MinQuotaBytes = 8 * Record, MaxQuotaBytes = 56 * Record },
        ],
    };

    private static long Bytes(IReadOnlyDictionary<string, string> stats, string name) => long.Parse(stats[name], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Capacity_moves_from_a_scanning_tenant_to_one_whose_curve_gains_and_never_below_the_minimum()
    {
        await using var s = TestServer.Start(Options());
        var a = s.Server.Tenants.All[0].Dram;
        var b = s.Server.Tenants.All[1].Dram;
        Assert.Equal(56, a.SlotCount); // the pool is allocated at the maximum, the limit starts at the quota
        Assert.Equal(32, a.SlotLimit);
        var payload = new byte[100];
        var layout = s.Server.Tenants.ValueLayout;

        // a cycles over 40 chunks (all hits from 40 slots up, none below); b never comes back to a chunk.
        for (int round = 0; round < 40; round++)
        {
            for (int k = 0; k < 40; k++)
            {
                var key = new ChunkKey((UInt128)(uint)k + 1);
                if (!a.TryRead(key, new byte[4096]))
                {
                    a.Write(layout, key, null, payload);
                }

                b.Write(layout, new ChunkKey((UInt128)(uint)((round * 40) + k) + 1), null, payload);
            }
        }

        var rebalancer = s.Server.Rebalancer!;
        int moves = 0;
        while (rebalancer.Step() is { } move)
        {
            Assert.Equal((1, 0, 4), (move.From, move.To, move.Slots));
            Assert.True(b.SlotLimit >= 8 && b.SlotsInUse <= b.SlotLimit);
            Assert.True(++moves <= 10);
        }

        Assert.Equal(6, moves);
        Assert.Equal((56, 8), (a.SlotLimit, b.SlotLimit));
        using var ca = s.Client(TokenA);
        using var cb = s.Client(TokenB);
        var sa = ca.Stats();
        var sb = cb.Stats();
        Assert.Equal(56 * Record, Bytes(sa, "dram.capacity_bytes"));
        Assert.Equal(56 * Record, Bytes(sa, "tier.dram.a.capacity_bytes"));
        Assert.Equal(56 * Record, Bytes(sa, "dram.target_bytes"));
        Assert.Equal(6, Bytes(sa, "dram.moves_in"));
        Assert.Equal(8 * Record, Bytes(sb, "dram.capacity_bytes"));
        Assert.Equal(8 * Record, Bytes(sb, "dram.min_bytes"));
        Assert.Equal(6, Bytes(sb, "dram.moves_out"));
        Assert.Contains("tierkv_dram_capacity_bytes:" + (8 * Record).ToString(CultureInfo.InvariantCulture), cb.Execute("INFO")!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_rebalancing_the_pool_is_the_quota_and_stats_show_no_bounds()
    {
        await using var s = TestServer.Start(Options(enabled: false));
        Assert.Null(s.Server.Rebalancer);
        Assert.Equal(32, s.Server.Tenants.All[0].Dram.SlotCount);
        using var c = s.Client(TokenA);
        var stats = c.Stats();
        Assert.Equal(32 * Record, Bytes(stats, "dram.capacity_bytes"));
        Assert.False(stats.ContainsKey("dram.min_bytes"));
    }

    [Fact]
    public void Bad_bounds_and_a_single_tenant_are_refused_with_the_setting_named()
    {
        var bounds = Assert.Throws<ArgumentException>(() => Options(minA: 40 * Record).Validate());
        Assert.Contains("MinQuotaBytes", bounds.Message, StringComparison.Ordinal);
        var single = Assert.Throws<ArgumentException>(() => (Options() with { Tenants = [Options().Tenants[0]] }).Validate());
        Assert.Contains("Server:Rebalance:Enabled needs two or more Server:Tenants", single.Message, StringComparison.Ordinal);
        var interval = Assert.Throws<ArgumentException>(() => (Options() with { Rebalance = new ServerRebalanceOptions { Enabled = true, IntervalSeconds = 0 } }).Validate());
        Assert.Contains("Server:Rebalance:IntervalSeconds", interval.Message, StringComparison.Ordinal);
        var decay = Assert.Throws<ArgumentException>(() => (Options() with { Rebalance = new ServerRebalanceOptions { Enabled = true, CurveDecay = 2 } }).Validate());
        Assert.Contains("Rebalance:CurveDecay", decay.Message, StringComparison.Ordinal);
    }
}
