using TierKv.Analysis.Traces;
using TierKv.Keys;
using TierKv.Rebalancing;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Analysis.Replay;

/// <summary>
/// Several tenants' traces replayed together, interleaved by time (each trace's clock starts at 0), through one real
/// <see cref="HostMemoryTier"/> per tenant whose slot limits share a fixed number of blocks: either a static split, or
/// a split a <see cref="DramRebalancer"/> moves every <see cref="SharedReplayOptions.RebalanceEvery"/> requests. Each
/// request is played as <see cref="TraceReplayer"/> plays a DRAM-only one: a lookup, reads of its leading cached run
/// (its hits), then every other block read when resident and stored otherwise. Runs are deterministic.
/// </summary>
public sealed class SharedDramReplay
{
    private readonly RequestTrace[] _traces;
    private readonly SharedReplayOptions _options;
    private readonly (int Tenant, int Request)[] _order;
    private readonly KvLayout _layout;

    /// <summary>A replay of <paramref name="traces"/> (two or more) with <paramref name="options"/>.</summary>
    public SharedDramReplay(IReadOnlyList<RequestTrace> traces, SharedReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(traces);
        ArgumentNullException.ThrowIfNull(options);
        if (traces.Count < 2)
        {
            throw new ArgumentException("A shared replay needs two or more traces.", nameof(traces));
        }

        options.Validate(traces.Count);
        _traces = [.. traces];
        _options = options;
        _order = Interleave(_traces, options.AlignSpans);
        _layout = new KvLayout("tierkv-shared-replay", 1, 1, 64, KvElementType.BFloat16, options.ChunkBytes / 256);
    }

    /// <summary>Requests of all tenants, in the order they are played.</summary>
    public int RequestCount => _order.Length;

    /// <summary>
    /// The static splits of two tenants' blocks to sweep: <paramref name="splits"/> + 1 evenly spaced shares of tenant 1,
    /// from the least to the most its bounds and the other tenant's allow (duplicates dropped).
    /// </summary>
    public IReadOnlyList<int[]> StaticSplits(int splits)
    {
        if (_traces.Length != 2)
        {
            throw new InvalidOperationException("Static splits are swept for two tenants.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(splits, 1);
        int total = _options.TotalBlocks;
        int lo = Math.Max(_options.MinBlocks[0], total - _options.MaxBlocks[1]);
        int hi = Math.Min(_options.MaxBlocks[0], total - _options.MinBlocks[1]);
        var result = new List<int[]>();
        for (int k = 0; k <= splits; k++)
        {
            int a = lo + (int)Math.Round((double)k * (hi - lo) / splits);
            if (result.Count == 0 || result[^1][0] != a)
            {
                result.Add([a, total - a]);
            }
        }

        return result;
    }

    /// <summary>One run from <paramref name="startBlocks"/> per tenant, rebalanced or static.</summary>
    public SharedReplayRun Run(IReadOnlyList<int> startBlocks, bool rebalance)
    {
        ArgumentNullException.ThrowIfNull(startBlocks);
        int n = _traces.Length;
        if (startBlocks.Count != n || startBlocks.Sum() != _options.TotalBlocks)
        {
            throw new ArgumentException($"The start split must give each of the {n} tenants blocks summing to {_options.TotalBlocks}.", nameof(startBlocks));
        }

        var players = new TenantPlayer[n];
        try
        {
            var tiers = new List<RebalancedTier>();
            for (int i = 0; i < n; i++)
            {
                // A static run's pool is its share; a rebalanced tier's pool is its maximum (docs/operations.md).
                int max = Math.Max(_options.MaxBlocks[i], startBlocks[i]);
                players[i] = new TenantPlayer(_traces[i], _layout, _options, rebalance ? max : startBlocks[i], startBlocks[i], rebalance);
                if (rebalance)
                {
                    tiers.Add(new RebalancedTier("tenant" + (i + 1), players[i].Dram, Math.Min(_options.MinBlocks[i], startBlocks[i]), max));
                }
            }

            var rebalancer = rebalance ? new DramRebalancer(tiers, _options.Rebalance) : null;
            var timeline = new List<(long, int[])> { (0, [.. startBlocks]) };
            var lowest = startBlocks.ToArray();
            for (int r = 0; r < _order.Length; r++)
            {
                var (tenant, request) = _order[r];
                players[tenant].Play(request);
                if (rebalancer is not null && (r + 1) % _options.RebalanceEvery == 0 && rebalancer.Step() is not null)
                {
                    var now = new int[n];
                    for (int i = 0; i < n; i++)
                    {
                        now[i] = players[i].Dram.SlotLimit;
                        lowest[i] = Math.Min(lowest[i], now[i]);
                    }

                    timeline.Add((r + 1, now));
                }
            }

            return new SharedReplayRun(
                [.. players.Select(p => p.HitBlocks)],
                [.. players.Select(p => p.Blocks)],
                [.. startBlocks],
                [.. players.Select(p => p.Dram.SlotLimit)],
                lowest)
            {
                Moves = rebalancer?.Moves ?? 0,
                Timeline = timeline,
            };
        }
        finally
        {
            foreach (var p in players)
            {
                p?.Dispose();
            }
        }
    }

    /// <summary>
    /// All tenants' requests by time since their own trace's first request (scaled to the longest span when
    /// <paramref name="align"/>); ties go to the lower tenant, then in file order.
    /// </summary>
    private static (int, int)[] Interleave(RequestTrace[] traces, bool align)
    {
        long longest = 1;
        foreach (var t in traces)
        {
            longest = Math.Max(longest, Span(t));
        }

        var all = new List<(double Time, int Tenant, int Request)>();
        for (int t = 0; t < traces.Length; t++)
        {
            var ts = traces[t].TimestampsMs;
            long t0 = ts.Length == 0 ? 0 : ts[0];
            double scale = align && Span(traces[t]) > 0 ? (double)longest / Span(traces[t]) : 1;
            for (int r = 0; r < ts.Length; r++)
            {
                all.Add(((ts[r] - t0) * scale, t, r));
            }
        }

        all.Sort();
        return [.. all.Select(a => (a.Tenant, a.Request))];
    }

    private static long Span(RequestTrace t) => t.RequestCount == 0 ? 0 : t.TimestampsMs[^1] - t.TimestampsMs[0];

    /// <summary>One tenant's DRAM tier and the state of its requests.</summary>
    private sealed class TenantPlayer : IDisposable
    {
        private readonly RequestTrace _trace;
        private readonly KvLayout _layout;
        private readonly TieredStore _store;
        private readonly ChunkKey[] _keys;
        private readonly byte[] _payload;
        private readonly byte[] _read;

        /// <summary>A tier whose pool has <paramref name="poolBlocks"/> slots, limited to <paramref name="startBlocks"/>; with its live curve when <paramref name="curves"/>.</summary>
        public TenantPlayer(RequestTrace trace, KvLayout layout, SharedReplayOptions options, int poolBlocks, int startBlocks, bool curves)
        {
            _trace = trace;
            _layout = layout;
            long slot = ((long)layout.ChunkBytes + HostMemoryTierOptions.PageSize - 1) / HostMemoryTierOptions.PageSize * HostMemoryTierOptions.PageSize;
            Dram = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = poolBlocks * slot, SlotBytes = layout.ChunkBytes, EvictionPolicy = options.Policy, Curves = curves ? options.Curves : null });
            Dram.SetSlotLimit(startBlocks);
            _store = new TieredStore([Dram]);
            int longest = 1;
            for (int r = 0; r < trace.RequestCount; r++)
            {
                longest = Math.Max(longest, trace.BlockStart[r + 1] - trace.BlockStart[r]);
            }

            _keys = new ChunkKey[longest];
            _payload = new byte[layout.ChunkBytes];
            _read = new byte[layout.ChunkBytes];
        }

        public HostMemoryTier Dram { get; }

        public long HitBlocks { get; private set; }

        public long Blocks { get; private set; }

        public void Play(int request)
        {
            var ids = _trace.BlocksOf(request);
            int n = ids.Length;
            for (int i = 0; i < n; i++)
            {
                _keys[i] = _trace.Keys[ids[i]];
            }

            var keys = _keys.AsSpan(0, n);
            int h = _store.Lookup(_layout, keys) / _layout.TokensPerChunk;
            int got = 0;
            while (got < h && Dram.TryRead(keys[got], _read))
            {
                got++;
            }

            HitBlocks += got;
            Blocks += n;
            for (int i = h; i < n; i++)
            {
                if (!Dram.TryRead(keys[i], _read))
                {
                    _store.Store(_layout, keys[..(i + 1)], _payload, firstChunk: i);
                }
            }
        }

        public void Dispose() => _store.Dispose();
    }
}
