using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using TierKv.Rebalancing;
using TierKv.Server.Hosting;

namespace TierKv.Server.Tenants;

/// <summary>
/// <c>Server:Rebalance</c>: every interval, one <see cref="DramRebalancer"/> step over the tenants' chunk DRAM tiers
/// (the small-value areas keep their size). Each move is counted (<c>tierkv.rebalance.moves</c>,
/// <c>tierkv.rebalance.moved_bytes</c>) and logged; each tenant's limit, bounds and target are gauges and appear in
/// <c>KV.STATS</c> and <c>INFO</c>.
/// </summary>
internal sealed class TenantRebalancer
{
    private readonly DramRebalancer _rebalancer;
    private readonly Tenant[] _tenants;
    private readonly ILogger _logger;
    private readonly TimeSpan _interval;
    private readonly Counter<long> _moves;
    private readonly Counter<long> _movedBytes;
    private readonly long[] _movesIn;
    private readonly long[] _movesOut;
    private Task? _loop;

    public TenantRebalancer(TenantDirectory directory, ILogger logger)
    {
        var options = directory.Options;
        _tenants = [.. directory.All];
        _logger = logger;
        _interval = TimeSpan.FromSeconds(options.Rebalance.IntervalSeconds);
        var tiers = new RebalancedTier[_tenants.Length];
        int shared = 0;
        for (int i = 0; i < _tenants.Length; i++)
        {
            var t = options.Tenants[i];
            var dram = _tenants[i].Dram;
            // The bounds apply to the whole quota; the small-value area inside it keeps its size.
            long quota = t.QuotaBytes ?? options.DramBytes;
            long apart = quota - (dram.SlotLimit * dram.SlotBytes);
            tiers[i] = new RebalancedTier(t.Name, dram, Slots(Math.Max((t.MinQuotaBytes ?? quota) - apart, dram.SlotBytes), dram), Math.Min(dram.SlotCount, Slots((t.MaxQuotaBytes ?? quota) - apart, dram)));
            shared += dram.SlotLimit;
        }

        _rebalancer = new DramRebalancer(tiers, options.Rebalance.ToRebalanceOptions(_tenants[0].Dram.SlotBytes, shared));
        _movesIn = new long[_tenants.Length];
        _movesOut = new long[_tenants.Length];
        var meter = directory.Metrics.Meter;
        _moves = meter.CreateCounter<long>("tierkv.rebalance.moves", "{move}", "Steps of DRAM capacity moved between tenants, by giving (from) and receiving (to) tenant.");
        _movedBytes = meter.CreateCounter<long>("tierkv.rebalance.moved_bytes", "By", "DRAM capacity moved between tenants, by giving (from) and receiving (to) tenant.");
        meter.CreateObservableGauge("tierkv.tenant.dram.limit", () => Gauge(t => t.Tier.SlotLimit * t.Tier.SlotBytes), "By", "DRAM a tenant's chunk records may use now (moved by the rebalancer).");
        meter.CreateObservableGauge("tierkv.tenant.dram.min", () => Gauge(t => t.MinSlots * t.Tier.SlotBytes), "By", "The least DRAM the rebalancer may leave a tenant.");
        meter.CreateObservableGauge("tierkv.tenant.dram.max", () => Gauge(t => t.MaxSlots * t.Tier.SlotBytes), "By", "The most DRAM the rebalancer may give a tenant.");
        meter.CreateObservableGauge("tierkv.tenant.dram.target", Targets, "By", "The split the rebalancer moves toward.");
    }

    /// <summary>The tiers under the rebalancer, in tenant order.</summary>
    public IReadOnlyList<RebalancedTier> Tiers => _rebalancer.Tiers;

    /// <summary>Moves in which tenant <paramref name="index"/> received capacity.</summary>
    public long MovesIn(int index) => Interlocked.Read(ref _movesIn[index]);

    /// <summary>Moves in which tenant <paramref name="index"/> gave capacity.</summary>
    public long MovesOut(int index) => Interlocked.Read(ref _movesOut[index]);

    /// <summary>Bytes tenant <paramref name="index"/> is heading toward (its limit while no target is set).</summary>
    public long TargetBytes(int index)
    {
        var target = _rebalancer.TargetSlots;
        var tier = _rebalancer.Tiers[index].Tier;
        return (target is null ? tier.SlotLimit : target[index]) * tier.SlotBytes;
    }

    /// <summary>Starts the periodic steps.</summary>
    public void Start(CancellationToken stop) => _loop = RunAsync(stop);

    /// <summary>Waits for the loop to end (after <c>stop</c> was cancelled).</summary>
    public Task StopAsync() => _loop ?? Task.CompletedTask;

    /// <summary>One step now (the loop's body; tests call it directly).</summary>
    public RebalanceMove? Step()
    {
        if (_rebalancer.Step() is not { } move)
        {
            return null;
        }

        var from = _rebalancer.Tiers[move.From];
        var to = _rebalancer.Tiers[move.To];
        long bytes = move.Slots * from.Tier.SlotBytes;
        Interlocked.Increment(ref _movesOut[move.From]);
        Interlocked.Increment(ref _movesIn[move.To]);
        var tags = new TagList { { "from", from.Name }, { "to", to.Name } };
        _moves.Add(1, tags);
        _movedBytes.Add(bytes, tags);
        ServerLog.Rebalanced(_logger, bytes, from.Name, to.Name, move.LossPerSlot, move.GainPerSlot, from.Tier.CapacityBytes, to.Tier.CapacityBytes);
        return move;
    }

    private static int Slots(long bytes, Tiers.HostMemoryTier dram) => (int)Math.Clamp(bytes / dram.SlotBytes, 1, dram.SlotCount);

    private async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                Step();
            }
        }
        catch (OperationCanceledException)
        {
            // Shutdown.
        }
    }

    private IEnumerable<Measurement<long>> Gauge(Func<RebalancedTier, long> value)
    {
        foreach (var t in _rebalancer.Tiers)
        {
            yield return new Measurement<long>(value(t), new KeyValuePair<string, object?>("tenant", t.Name));
        }
    }

    private IEnumerable<Measurement<long>> Targets()
    {
        for (int i = 0; i < _tenants.Length; i++)
        {
            yield return new Measurement<long>(TargetBytes(i), _tenants[i].Tag);
        }
    }
}
