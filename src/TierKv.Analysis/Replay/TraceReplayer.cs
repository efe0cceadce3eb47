using System.Diagnostics;
using TierKv.Analysis.Traces;
using TierKv.Keys;
using TierKv.Nvme;
using TierKv.Store;
using TierKv.Tiers;
using TierKv.Tracing;

namespace TierKv.Analysis.Replay;

/// <summary>
/// Replays a trace through a real <see cref="TieredStore"/> (a <see cref="HostMemoryTier"/>, and optionally the SSD
/// tier <see cref="NvmeTier"/> below it) with synthetic payloads: per request, a lookup (the leading run of cached
/// chunks), a retrieve of that run, then every other chunk of the request in order (read when in DRAM, stored
/// otherwise). With DRAM only these are exactly the accesses <see cref="Simulation.PolicySimulator"/> models, so the
/// hit ratio equals <c>analyze</c>'s for the same policy and capacity.
/// </summary>
public sealed class TraceReplayer : IDisposable
{
    /// <summary>Most bytes read back in one retrieve (a request's hits are read in windows of this size).</summary>
    private const long MaxReadBytes = 64L << 20;

    /// <summary>Longest single delay while waiting for a request's timestamp (an hour, well under Task.Delay's limit).</summary>
    private const double MaxDelayMs = 3_600_000;

    private readonly RequestTrace _trace;
    private readonly KvLayout _layout;
    private readonly HostMemoryTier _dram;
    private readonly TieredStore _store;
    private readonly byte[] _payload;
    private readonly AccessTraceWriter? _recorder;

    /// <summary>DRAM only: <paramref name="capacityBlocks"/> slots of <paramref name="chunkBytes"/> (a multiple of 256).</summary>
    public TraceReplayer(RequestTrace trace, string policy, int capacityBlocks, int chunkBytes, AccessTraceWriter? recorder = null)
        : this(trace, new ReplayOptions { Policy = policy, DramBlocks = capacityBlocks, ChunkBytes = chunkBytes }, recorder)
    {
    }

    /// <summary>Builds the tier stack of <paramref name="options"/>.</summary>
    public TraceReplayer(RequestTrace trace, ReplayOptions options, AccessTraceWriter? recorder = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _trace = trace;
        int cb = options.ChunkBytes;
        // A synthetic layout whose chunk has exactly ChunkBytes: 1 layer, 1 KV head, dim 64, bf16 -> 256 bytes per token.
        _layout = new KvLayout("tierkv-replay", 1, 1, 64, KvElementType.BFloat16, cb / 256);
        long slot = ((long)cb + HostMemoryTierOptions.PageSize - 1) / HostMemoryTierOptions.PageSize * HostMemoryTierOptions.PageSize;
        if (options.SsdBlocks > 0)
        {
            _store = TierStackBuilder.Build(new TierStackOptions
            {
                DataDirectory = options.SsdDirectory!,
                DramCapacityBytes = options.DramBlocks * slot,
                SsdCapacityBytes = options.SsdBlocks * slot,
                ChunkBytes = cb,
                DramEvictionPolicy = options.Policy,
                SsdEvictionPolicy = options.Policy,
                UseDirectIo = options.SsdDirectIo,
                Store = new TieredStoreOptions { WriteBackOverflow = options.WriteBackOverflow },
            });
            _dram = (HostMemoryTier)_store.Tiers[0];
        }
        else
        {
            _dram = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = options.DramBlocks * slot, SlotBytes = cb, EvictionPolicy = options.Policy, Curves = options.Curves });
            _store = new TieredStore([_dram]);
        }

        _payload = new byte[cb];
        for (int i = 0; i < _payload.Length; i++)
        {
            _payload[i] = (byte)(i * 31);
        }

        _recorder = recorder;
        PolicyName = _dram.PolicyName;
    }

    /// <summary>The DRAM tier's policy.</summary>
    public string PolicyName { get; }

    /// <summary>
    /// Replays every request. With <paramref name="speed"/> &gt; 0, requests wait for their timestamp divided by
    /// <paramref name="speed"/>; 0 runs as fast as possible. <paramref name="progress"/> gets the requests done.
    /// </summary>
    public async Task<ReplayResult> RunAsync(double speed = 0, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        int maxBlocks = 1;
        for (int r = 0; r < _trace.RequestCount; r++)
        {
            maxBlocks = Math.Max(maxBlocks, _trace.BlockStart[r + 1] - _trace.BlockStart[r]);
        }

        var tiers = _store.Tiers;
        var keys = new ChunkKey[maxBlocks];
        var where = new int[maxBlocks];
        // Hits are read in windows of at most MaxReadBytes: a request of many blocks (a line of a million hash ids)
        // must not need a buffer of all of them at once (which overflowed an array's length).
        int window = (int)Math.Clamp(MaxReadBytes / _payload.Length, 1, maxBlocks);
        var dest = new byte[(long)window * _payload.Length];
        var perTier = new long[tiers.Count];
        long hits = 0, blocks = 0, bytesRead = 0, bytesWritten = 0;
        var sw = Stopwatch.StartNew();
        long t0 = _trace.TimestampsMs[0];
        for (int r = 0; r < _trace.RequestCount; r++)
        {
            if (speed > 0)
            {
                // Waited in slices: a gap of years (a corrupt or far-future timestamp) is longer than one delay may be.
                double due = (_trace.TimestampsMs[r] - t0) / speed;
                double wait;
                while ((wait = due - sw.Elapsed.TotalMilliseconds) > 1)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(wait, MaxDelayMs)), cancellationToken).ConfigureAwait(false);
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            var ids = _trace.BlocksOf(r);
            int n = ids.Length;
            for (int i = 0; i < n; i++)
            {
                keys[i] = _trace.Keys[ids[i]];
            }

            _recorder?.Record((long)sw.Elapsed.TotalMicroseconds, _trace.Tenants[r], _trace.InputTokens[r], keys.AsSpan(0, n));
            int h = _store.Lookup(_layout, keys.AsSpan(0, n)) / _layout.TokensPerChunk;
            int got = 0;
            if (h > 0)
            {
                if (tiers.Count == 1)
                {
                    where.AsSpan(0, h).Clear();
                }
                else
                {
                    _store.LocateChunks(keys.AsSpan(0, h), where);
                }

                for (int start = 0; start < h;)
                {
                    int w = Math.Min(window, h - start);
                    int g = tiers.Count == 1
                        ? _store.Retrieve(_layout, keys.AsSpan(start, w), dest)
                        : await _store.RetrieveAsync(_layout, keys.AsMemory(start, w), dest, cancellationToken: cancellationToken).ConfigureAwait(false);
                    got += g;
                    start += w;
                    if (g < w)
                    {
                        break;
                    }
                }

                for (int i = 0; i < got; i++)
                {
                    perTier[where[i]]++;
                }
            }

            hits += got;
            blocks += n;
            bytesRead += (long)got * _payload.Length;
            for (int i = h; i < n; i++)
            {
                if (_dram.TryRead(keys[i], dest))
                {
                    bytesRead += _payload.Length;
                }
                else if (_store.Store(_layout, keys.AsSpan(0, i + 1), _payload, firstChunk: i) > 0)
                {
                    bytesWritten += _payload.Length;
                }
            }

            progress?.Report(r + 1);
        }

        await _store.DrainAsync(cancellationToken).ConfigureAwait(false);
        _dram.Curves?.Flush();
        var names = new string[tiers.Count];
        for (int t = 0; t < tiers.Count; t++)
        {
            names[t] = tiers[t].Name;
        }

        return new ReplayResult(PolicyName, hits, blocks, hits * (long)_trace.BlockTokens, bytesRead, bytesWritten, sw.Elapsed.TotalSeconds)
        {
            TierNames = names,
            TierHitBlocks = perTier,
            ShedWrites = _store.ShedWrites,
            WriteBackWaits = _store.WriteBackWaits,
            WriteBackWaitTimeouts = _store.WriteBackWaitTimeouts,
            PromotionsSkipped = _store.PromotionsSkipped,
            Curve = _dram.Curves?.Snapshot() ?? [],
            CurveMemoryBytes = _dram.Curves?.MemoryBytes ?? 0,
            CurveLruSampleRate = _dram.Curves?.LruSampleRate ?? 0,
            CurvePolicySampleRate = _dram.Curves?.PolicySampleRate ?? 0,
            CurveCpuSeconds = _dram.Curves?.BackgroundCpuSeconds,
            CurveInlineDrains = _dram.Curves?.InlineDrains ?? 0,
        };
    }

    /// <inheritdoc />
    public void Dispose() => _store.Dispose();
}
