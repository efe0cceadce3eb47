using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using TierKv.Tiers.Slots;

namespace TierKv.Metrics;

/// <summary>
/// All of TierKV's instruments on one <see cref="Meter"/> named <c>TierKv</c> (exported for Prometheus through
/// OpenTelemetry by the server). Each tier also keeps plain counters (<see cref="TierCounters"/>) so the CLI and
/// <c>tierkv top</c> can show figures without a metrics pipeline.
/// </summary>
public sealed class TierKvMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "TierKv";

    private readonly ConcurrentDictionary<string, TierCounters> _tiers = new();
    private readonly ConcurrentDictionary<ChunkPriorities, (string Store, Func<long> Limit)> _pins = new();
    private readonly Counter<long> _lookups;
    private readonly Counter<long> _requestedTokens;
    private readonly Counter<long> _hitTokens;
    private readonly Counter<long> _readBytes;
    private readonly Counter<long> _writeBytes;
    private readonly Histogram<double> _readSeconds;
    private readonly Histogram<double> _writeSeconds;
    private readonly Counter<long> _evictions;
    private readonly Counter<long> _admissions;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _checksumFailures;
    private readonly Counter<long> _ioErrors;
    private readonly Counter<long> _writeBackWaits;
    private readonly Counter<long> _promotionsSkipped;

    /// <summary>Creates the instruments on a new meter (or the factory's, when given).</summary>
    public TierKvMetrics(IMeterFactory? meterFactory = null)
    {
        Meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName, "1.0");
        _lookups = Meter.CreateCounter<long>("tierkv.lookups", "{lookup}", "Prefix lookups.");
        _requestedTokens = Meter.CreateCounter<long>("tierkv.lookup.requested_tokens", "{token}", "Tokens asked for by lookups.");
        _hitTokens = Meter.CreateCounter<long>("tierkv.lookup.hit_tokens", "{token}", "Leading tokens found, by the tier that holds them.");
        _readBytes = Meter.CreateCounter<long>("tierkv.tier.read_bytes", "By", "Payload bytes read from a tier.");
        _writeBytes = Meter.CreateCounter<long>("tierkv.tier.write_bytes", "By", "Payload bytes written to a tier.");
        _readSeconds = Meter.CreateHistogram<double>("tierkv.tier.read_duration", "s", "Latency of one chunk read.");
        _writeSeconds = Meter.CreateHistogram<double>("tierkv.tier.write_duration", "s", "Latency of one chunk write.");
        _evictions = Meter.CreateCounter<long>("tierkv.tier.evictions", "{chunk}", "Chunks evicted to make room.");
        _admissions = Meter.CreateCounter<long>("tierkv.tier.admissions", "{chunk}", "Chunks admitted into a tier.");
        _rejections = Meter.CreateCounter<long>("tierkv.tier.rejections", "{chunk}", "Chunks a tier declined (no space, not admitted, failed).");
        _checksumFailures = Meter.CreateCounter<long>("tierkv.tier.checksum_failures", "{chunk}", "Damaged chunks detected and dropped.");
        _ioErrors = Meter.CreateCounter<long>("tierkv.tier.io_errors", "{operation}", "Failed reads and writes, served as misses.");
        _writeBackWaits = Meter.CreateCounter<long>("tierkv.store.write_back_waits", "{wait}", "Stores that waited for room in the write-behind queue of the tier below, by outcome (room, timeout).");
        _promotionsSkipped = Meter.CreateCounter<long>("tierkv.store.promotions_skipped", "{chunk}", "Promotions into DRAM skipped because the eviction they needed found the write-behind queue full.");
        Meter.CreateObservableGauge("tierkv.tier.usage", ObserveUsage, "By", "Payload bytes held by a tier.");
        Meter.CreateObservableGauge("tierkv.tier.capacity", ObserveCapacity, "By", "Capacity of a tier.");
        Meter.CreateObservableGauge("tierkv.tier.chunks", ObserveChunks, "{chunk}", "Chunks held by a tier.");
        Meter.CreateObservableGauge("tierkv.tier.curve.hit_ratio", ObserveCurve, null, "Live estimate of the hit ratio a tier would have at another size (multiple of its capacity) or under another policy.");
        Meter.CreateObservableGauge("tierkv.tier.curve.memory", () => ObserveCurves(static c => c.MemoryBytes), "By", "Memory held by a tier's live curve estimator (fixed at start).");
        Meter.CreateObservableGauge("tierkv.tier.curve.sample_rate", () => ObserveCurves(static c => c.LruSampleRate), null, "Share of prefix families a tier's live LRU curve simulates (1: all; SHARDS sampling below).");
        Meter.CreateObservableCounter("tierkv.tier.curve.inline_drains", () => ObserveCurves(static c => c.InlineDrains), "{batch}", "Times a tier found its curve estimator's ring full and simulated a batch itself, on the serving path.");
        Meter.CreateObservableCounter("tierkv.tier.curve.cpu_time", () => ObserveCurves(static c => c.BackgroundCpuSeconds ?? 0), "s", "Processor time of a tier's curve estimator's background thread.");
        Meter.CreateObservableGauge("tierkv.store.pinned_chunks", () => ObservePins(static (p, _) => p.PinnedChunks), "{chunk}", "Pinned chunks a tier of the store holds (pins whose time to live has not ended).");
        Meter.CreateObservableGauge("tierkv.store.pinned_bytes", () => ObservePins(static (p, _) => p.PinnedBytes), "By", "Payload bytes of the store's pinned chunks.");
        Meter.CreateObservableGauge("tierkv.store.pinned_bytes_limit", () => ObservePins(static (_, limit) => limit()), "By", "Payload bytes the store lets pins hold (MaxPinnedBytes).");
    }

    /// <summary>The <c>TierKv</c> meter.</summary>
    public Meter Meter { get; }

    /// <summary>Counters of every tier seen so far, by tier name.</summary>
    public IReadOnlyDictionary<string, TierCounters> Tiers => _tiers;

    /// <summary>Counters of all lookups.</summary>
    public LookupCounters Lookups { get; } = new();

    /// <summary>The counters of tier <paramref name="name"/>, created on first use.</summary>
    public TierCounters ForTier(string name) => _tiers.GetOrAdd(name, static n => new TierCounters(n));

    /// <summary>
    /// Reports the pins of <paramref name="priorities"/> as the store <paramref name="store"/> (its first tier's name),
    /// under the limit <paramref name="maxPinnedBytes"/>. A registry shared by several stores is reported once, by the
    /// first: false when it is reported already.
    /// </summary>
    public bool AttachPins(string store, ChunkPriorities priorities, Func<long> maxPinnedBytes)
    {
        ArgumentNullException.ThrowIfNull(priorities);
        ArgumentNullException.ThrowIfNull(maxPinnedBytes);
        return _pins.TryAdd(priorities, (store, maxPinnedBytes));
    }

    /// <summary>Stops reporting the pins of <paramref name="priorities"/> (its store was disposed).</summary>
    public void DetachPins(ChunkPriorities priorities) => _pins.TryRemove(priorities, out _);

    /// <summary>Records a store that waited for write-behind room: it got room, or it timed out (and shed).</summary>
    public void RecordWriteBackWait(bool timedOut) =>
        _writeBackWaits.Add(1, new KeyValuePair<string, object?>("outcome", timedOut ? "timeout" : "room"));

    /// <summary>Records a promotion skipped for want of write-behind room.</summary>
    public void RecordPromotionSkipped() => _promotionsSkipped.Add(1);

    /// <summary>Records one lookup.</summary>
    public void RecordLookup(long requestedTokens)
    {
        Lookups.Add(requestedTokens);
        _lookups.Add(1);
        _requestedTokens.Add(requestedTokens);
    }

    /// <summary>Records leading tokens served by a tier.</summary>
    public void RecordHitTokens(TierCounters tier, long tokens)
    {
        Interlocked.Add(ref tier.HitTokens, tokens);
        _hitTokens.Add(tokens, new KeyValuePair<string, object?>("tier", tier.Name));
    }

    /// <summary>Records a chunk read.</summary>
    public void RecordRead(TierCounters tier, long bytes, double seconds) =>
        RecordTransfer(ref tier.Reads, ref tier.ReadBytes, tier.ReadLatency, _readBytes, _readSeconds, tier.Name, bytes, seconds);

    /// <summary>Records a chunk write.</summary>
    public void RecordWrite(TierCounters tier, long bytes, double seconds) =>
        _admissions.Add(1, RecordTransfer(ref tier.Writes, ref tier.WriteBytes, tier.WriteLatency, _writeBytes, _writeSeconds, tier.Name, bytes, seconds));

    /// <summary>One read or write: the tier's own counters and latency, then the exported instruments; returns the tier's tag.</summary>
    private static KeyValuePair<string, object?> RecordTransfer(
        ref long count, ref long totalBytes, LatencyHistogram latency, Counter<long> bytesCounter, Histogram<double> durations, string tierName, long bytes, double seconds)
    {
        Interlocked.Increment(ref count);
        Interlocked.Add(ref totalBytes, bytes);
        latency.Record(seconds);
        var tag = new KeyValuePair<string, object?>("tier", tierName);
        bytesCounter.Add(bytes, tag);
        durations.Record(seconds, tag);
        return tag;
    }

    /// <summary>Records evictions.</summary>
    public void RecordEviction(TierCounters tier, long chunks = 1)
    {
        Interlocked.Add(ref tier.Evictions, chunks);
        _evictions.Add(chunks, new KeyValuePair<string, object?>("tier", tier.Name));
    }

    /// <summary>Records a declined write.</summary>
    public void RecordRejection(TierCounters tier, string reason)
    {
        Interlocked.Increment(ref tier.Rejections);
        _rejections.Add(1, new KeyValuePair<string, object?>("tier", tier.Name), new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Records a damaged chunk.</summary>
    public void RecordChecksumFailure(TierCounters tier, string reason)
    {
        Interlocked.Increment(ref tier.ChecksumFailures);
        _checksumFailures.Add(1, new KeyValuePair<string, object?>("tier", tier.Name), new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Records a failed I/O.</summary>
    public void RecordIoError(TierCounters tier, string operation)
    {
        Interlocked.Increment(ref tier.IoErrors);
        _ioErrors.Add(1, new KeyValuePair<string, object?>("tier", tier.Name), new KeyValuePair<string, object?>("operation", operation));
    }

    /// <inheritdoc />
    public void Dispose() => Meter.Dispose();

    private IEnumerable<Measurement<long>> ObserveUsage()
    {
        foreach (var t in _tiers.Values)
        {
            if (t.Usage is { } u)
            {
                yield return new Measurement<long>(u().Used, new KeyValuePair<string, object?>("tier", t.Name));
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveCapacity()
    {
        foreach (var t in _tiers.Values)
        {
            if (t.Usage is { } u)
            {
                yield return new Measurement<long>(u().Capacity, new KeyValuePair<string, object?>("tier", t.Name));
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveCurve()
    {
        foreach (var t in _tiers.Values)
        {
            if (t.Curves is not { } c)
            {
                continue;
            }

            foreach (var p in c.Snapshot())
            {
                yield return new Measurement<double>(
                    p.HitRatio,
                    new KeyValuePair<string, object?>("tier", t.Name),
                    new KeyValuePair<string, object?>("policy", p.Policy),
                    new KeyValuePair<string, object?>("multiple", p.Multiple.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)),
                    new KeyValuePair<string, object?>("capacity", p.Capacity));
            }
        }
    }

    private IEnumerable<Measurement<T>> ObserveCurves<T>(Func<TierKv.Curves.MissRatioCurveEstimator, T> value)
        where T : struct
    {
        foreach (var t in _tiers.Values)
        {
            if (t.Curves is { } c)
            {
                yield return new Measurement<T>(value(c), new KeyValuePair<string, object?>("tier", t.Name));
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveChunks()
    {
        foreach (var t in _tiers.Values)
        {
            if (t.Usage is { } u)
            {
                yield return new Measurement<long>(u().Chunks, new KeyValuePair<string, object?>("tier", t.Name));
            }
        }
    }

    private IEnumerable<Measurement<long>> ObservePins(Func<ChunkPriorities, Func<long>, long> value)
    {
        foreach (var (priorities, (store, limit)) in _pins)
        {
            yield return new Measurement<long>(value(priorities, limit), new KeyValuePair<string, object?>("store", store));
        }
    }
}
