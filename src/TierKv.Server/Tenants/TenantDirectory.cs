using TierKv.Curves;
using TierKv.Metrics;
using TierKv.Nvme;
using TierKv.Rebalancing;
using TierKv.Remote;
using TierKv.Store;
using TierKv.Tiers.Slots;

namespace TierKv.Server.Tenants;

/// <summary>The tenants of a server, each with its own store, built from <see cref="ServerOptions"/>.</summary>
internal sealed class TenantDirectory : IDisposable
{
    private readonly Tenant[] _tenants;

    public TenantDirectory(ServerOptions options, TierKvMetrics metrics, Action<string>? log = null)
    {
        Options = options;
        Metrics = metrics;
        Layout = options.Layout;
        RecordBytes = options.RecordBytes;
        ValueLayout = ValueRecord.Layout(RecordBytes);
        ReadBuffers = new RecordBufferPool(RecordBytes, retained: 4);
        if (options.Tenants.Count == 0)
        {
            AuthRequired = false;
            _tenants = [Create(options, metrics, log, 0, "default", null, TenantSalt.None, options.DramBytes, options.DramBytes, options.SsdBytes, options.MaxPinnedBytes, tierSuffix: "")];
        }
        else
        {
            AuthRequired = true;
            _tenants = new Tenant[options.Tenants.Count];
            for (int i = 0; i < _tenants.Length; i++)
            {
                var t = options.Tenants[i];
                long quota = t.QuotaBytes ?? options.DramBytes;
                long pool = options.Rebalance.Enabled ? Math.Max(quota, t.MaxQuotaBytes ?? quota) : quota;
                _tenants[i] = Create(options, metrics, log, i, t.Name, t.Token, TenantSalt.FromString(t.Salt ?? t.Name), quota, pool, t.SsdQuotaBytes ?? options.SsdBytes, t.MaxPinnedBytes ?? options.MaxPinnedBytes, "." + t.Name);
            }
        }
    }

    public ServerOptions Options { get; }

    public TierKvMetrics Metrics { get; }

    /// <summary>Layout of token lookups and of stored values (their fingerprint in chunk metadata).</summary>
    public KvLayout Layout { get; }

    /// <summary>Bytes of a value record (the slot size of every tier).</summary>
    public int RecordBytes { get; }

    /// <summary>Record buffers for reads below DRAM (few kept between requests).</summary>
    public RecordBufferPool ReadBuffers { get; }

    /// <summary>The layout of value records in the tiers.</summary>
    public KvLayout ValueLayout { get; }

    /// <summary>True when clients must AUTH before anything but PING/HELLO/AUTH/QUIT.</summary>
    public bool AuthRequired { get; }

    /// <summary>The tenant of unauthenticated clients when authentication is off.</summary>
    public Tenant? Default => AuthRequired ? null : _tenants[0];

    public IReadOnlyList<Tenant> All => _tenants;

    /// <summary>Finds the tenant a token belongs to (and, when given, whose name matches); every tenant is compared so timing reveals nothing.</summary>
    public Tenant? Authenticate(ReadOnlySpan<byte> user, ReadOnlySpan<byte> token)
    {
        Tenant? found = null;
        foreach (var t in _tenants)
        {
            bool ok = t.TokenMatches(token);
            if (ok && (user.IsEmpty || System.Text.Ascii.Equals(user, t.Name) || user.SequenceEqual("default"u8)))
            {
                found = t;
            }
        }

        return found;
    }

    public void Dispose()
    {
        foreach (var t in _tenants)
        {
            t.Dispose();
        }

        ReadBuffers.Dispose();
    }

    /// <summary>A tenant whose chunk records may use <paramref name="dramBytes"/> of a DRAM pool of <paramref name="poolBytes"/> (more only when rebalancing).</summary>
    private static Tenant Create(ServerOptions options, TierKvMetrics metrics, Action<string>? log, int index, string name, string? token, TenantSalt salt, long dramBytes, long poolBytes, long ssdBytes, long? maxPinnedBytes, string tierSuffix)
    {
        long smallDram = options.SmallAreaBytes(dramBytes);
        long smallSsd = smallDram == 0 ? 0 : Math.Max(ssdBytes / 32, options.SmallRecordBytes * 16L);

        // One registry for both value classes: a key's pin and priority follow it, and pins share one limit.
        var priorities = new ChunkPriorities();
        var chunks = CreateClass(options, metrics, log, options.RecordBytes, poolBytes - smallDram, ssdBytes, name, tierSuffix, priorities);
        try
        {
            if (poolBytes > dramBytes)
            {
                chunks.Dram.SetSlotLimit((int)((dramBytes - smallDram) / chunks.Dram.SlotBytes));
            }

            var small = smallDram == 0 ? null : CreateClass(options, metrics, log, options.SmallRecordBytes, smallDram, smallSsd, name + ".small", ".small" + tierSuffix, priorities);
            return new Tenant(index, name, token, salt, chunks, small, maxPinnedBytes ?? (dramBytes / 2));
        }
        catch
        {
            chunks.Dispose();
            throw;
        }
    }

    /// <summary>The DRAM tiers' live curves: with rebalancing and no sizes configured, dense between the tenants' bounds.</summary>
    private static MissRatioCurveOptions? CurvesOf(ServerOptions options)
    {
        var curves = options.Curves.ToEstimatorOptions();
        return curves is not null && options.Rebalance.Enabled && options.Curves.Multiples.Count == 0 ? curves with { Multiples = RebalanceOptions.CurveMultiples } : curves;
    }

    private static ValueClass CreateClass(ServerOptions options, TierKvMetrics metrics, Action<string>? log, int record, long dramBytes, long ssdBytes, string folder, string tierSuffix, ChunkPriorities priorities)
    {
        bool ssd = !string.IsNullOrEmpty(options.DataDir);

        // Each size class has its own key space in the cluster: a key's value moves between classes when its size does,
        // and a record of one class read as the other's would be a damaged value.
        string prefix = record == options.RecordBytes ? options.Remote.KeyPrefix : options.Remote.KeyPrefix + "-small";
        var store = TierStackBuilder.Build(
            new TierStackOptions
            {
                DramCapacityBytes = dramBytes,
                ChunkBytes = record,
                DramEvictionPolicy = options.EvictionPolicy,
                SsdEvictionPolicy = options.EvictionPolicy,
                SsdCapacityBytes = ssd ? Math.Max(ssdBytes, record) : 0,
                SsdDirectory = ssd ? Path.Combine(options.DataDir!, folder) : null,
                TierSuffix = tierSuffix,
                DramCurves = CurvesOf(options),
                SsdCurves = options.Curves.ToEstimatorOptions(),
                Below = options.HasRemote ? m => RedisTier.Connect(options.Remote with { Name = "remote" + tierSuffix, KeyPrefix = prefix }, m, log) : null,
                Priorities = priorities,
                Store = new TieredStoreOptions
                {
                    WriteMode = options.SsdWriteThrough ? LowerTierWriteMode.WriteThrough : LowerTierWriteMode.WriteBack,
                    PromoteOnHit = false,
                },
            },
            metrics);
        return new ValueClass(store, (HostMemoryTier)store.Tiers[0], record);
    }
}
