using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Net;
using StackExchange.Redis;
using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Tiers;

namespace TierKv.Remote;

/// <summary>
/// The shared tier across machines: chunks as values on a Redis-protocol server or cluster (Redis, Valkey, Garnet),
/// reached with StackExchange.Redis. Values are in the chunk format (64-byte header plus payload) and every read is
/// verified: damage is a miss, counted, and the value is deleted. Keys follow <see cref="RedisKeyScheme"/>, so a
/// request's chunks spread over the cluster's slots; existence checks are grouped by owning node and pipelined, one
/// round trip per node. Lookups use their own connection, values a separate pool of connections, so a 32 MiB value in
/// flight never delays a lookup. Each node has its own Polly pipeline (bounded retries, circuit breaker, timeouts): a
/// dead, stalled or restarting node is a miss for its slots, never an exception or a stuck call, and is used again
/// once it answers. Eviction is the cluster's (e.g. <c>maxmemory-policy allkeys-lru</c>): an evicted chunk is a miss.
/// </summary>
public sealed partial class RedisTier : IKvTier, IReplacingTier, IMetricsAware, IAsyncDisposable
{
    private readonly RemoteTierOptions _options;
    private readonly ConnectionMultiplexer _lookup;
    private readonly ConnectionMultiplexer[] _bulk;
    private readonly IDatabase _lookupDb;
    private readonly IDatabase[] _bulkDb;
    private readonly RedisKeyScheme _scheme;
    private readonly ConcurrentDictionary<EndPoint, RemoteNode> _nodes = new();
    private readonly RemoteNode _unowned;
    private readonly SlotOwners _slots;
    private TierKvMetrics? _metrics;
    private TierCounters? _tierCounters;
    private readonly Action<string>? _log;
    private const string LookupClientName = "tierkv-lookup";

    [ThreadStatic]
    private static XxHash3? t_hasher;

    private int _damageLogged;
    private int _failureLogged;
    private int _disposed;

    private RedisTier(RemoteTierOptions options, ConnectionMultiplexer lookup, ConnectionMultiplexer[] bulk, TierKvMetrics? metrics, Action<string>? log)
    {
        _options = options;
        _lookup = lookup;
        _bulk = bulk;
        _lookupDb = lookup.GetDatabase();
        _bulkDb = new IDatabase[bulk.Length];
        for (int i = 0; i < bulk.Length; i++)
        {
            _bulkDb[i] = bulk[i].GetDatabase();
        }

        _scheme = new RedisKeyScheme(options.KeyPrefix);
        _metrics = metrics;
        _tierCounters = metrics?.ForTier(options.Name);
        _log = log;
        _unowned = new RemoteNode(null, null, new IServer?[bulk.Length], options, log);
        _slots = new SlotOwners(lookup);
    }

    /// <summary>The settings the tier runs with.</summary>
    public RemoteTierOptions Options => _options;

    /// <summary>How chunk keys are named in Redis.</summary>
    public RedisKeyScheme KeyScheme => _scheme;

    /// <summary>Counters of hits, misses, damage and node failures.</summary>
    public RemoteTierCounters Counters { get; } = new();

    /// <summary>True while at least one node of the cluster is connected.</summary>
    public bool IsConnected => _lookup.IsConnected;

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    public TierKind Kind => TierKind.Remote;

    /// <summary>The configured <see cref="RemoteTierOptions.CapacityBytes"/>: the cluster's <c>maxmemory</c> is what binds.</summary>
    public long CapacityBytes => _options.CapacityBytes;

    /// <summary>Always 0: usage belongs to the cluster, shared by every process (see its <c>INFO memory</c>).</summary>
    public long UsedBytes => 0;

    /// <summary>Always 0: the chunk count belongs to the cluster, shared by every process.</summary>
    public long ChunkCount => 0;

    /// <inheritdoc />
    public bool HasLocalIndex => false;

    /// <summary>
    /// Connects to the cluster and builds the tier. A cluster that cannot be reached yet is not an error: the tier
    /// answers misses and connects in the background. Throws <see cref="ArgumentException"/> for bad options.
    /// </summary>
    public static async Task<RedisTier> ConnectAsync(RemoteTierOptions options, TierKvMetrics? metrics = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var lookup = await ConnectionMultiplexer.ConnectAsync(Configure(options, LookupClientName)).ConfigureAwait(false);
        var bulk = new ConnectionMultiplexer[options.BulkConnections];
        for (int i = 0; i < bulk.Length; i++)
        {
            bulk[i] = await ConnectionMultiplexer.ConnectAsync(Configure(options, $"tierkv-bulk{i}")).ConfigureAwait(false);
        }

        var tier = new RedisTier(options, lookup, bulk, metrics, log);
        await tier._slots.RefreshAsync().ConfigureAwait(false);
        return tier;
    }

    /// <summary>Synchronous <see cref="ConnectAsync"/> for start-up code.</summary>
    public static RedisTier Connect(RemoteTierOptions options, TierKvMetrics? metrics = null, Action<string>? log = null) =>
        ConnectAsync(options, metrics, log).GetAwaiter().GetResult();

    /// <inheritdoc />
    public void AttachMetrics(TierKvMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (_metrics is null)
        {
            _tierCounters = metrics.ForTier(_options.Name);
            _metrics = metrics;
        }
    }

    /// <summary>The Redis key of a chunk, as text (for operators and plain clients).</summary>
    public string RedisKeyOf(ChunkKey key) => _scheme.KeyStringFor(key);

    /// <inheritdoc />
    public bool Contains(in ChunkKey key) => false;

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _lookup.Dispose();
        foreach (var m in _bulk)
        {
            m.Dispose();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lookup.DisposeAsync().ConfigureAwait(false);
        foreach (var m in _bulk)
        {
            await m.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static ConfigurationOptions Configure(RemoteTierOptions o, string clientName)
    {
        // The client's own timeouts are only a backstop: the Polly pipeline gives up on a call well before.
        int backstopMs = (int)Math.Min(int.MaxValue, (Math.Max(o.ValueTimeout.TotalMilliseconds, o.LookupBudget.TotalMilliseconds) * 2) + 1000);
        var c = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectTimeout = (int)o.ConnectTimeout.TotalMilliseconds,
            ConnectRetry = 1,
            AsyncTimeout = backstopMs,
            SyncTimeout = backstopMs,

            // The default backlog: a command that finds the connection's writer busy is queued rather than making the
            // caller wait for the writer synchronously (which would escape the lookup budget). Commands for a node
            // that is down are not sent at all: the tier checks the owner's connection first (SlotOwners).
            BacklogPolicy = BacklogPolicy.Default,
            ReconnectRetryPolicy = new LinearRetry(250),
            KeepAlive = 5,
            ClientName = clientName,

            // Only so the client lets the tier read CLUSTER NODES (SlotOwners); no other admin command is sent.
            AllowAdmin = clientName == LookupClientName,
            User = o.User,
            Password = o.Password,
        };
        foreach (var e in o.Endpoints)
        {
            RemoteTierOptions.TryParseEndpoint(e, out var host, out int port);
            c.EndPoints.Add(host.Trim('[', ']'), port);
        }

        return c;
    }

    private IDatabase BulkFor(ChunkKey key) => _bulkDb[BulkIndex(key)];

    private RemoteNode NodeFor(in RedisKey key)
    {
        var endPoint = _slots.OwnerOf(key);
        return endPoint is null ? _unowned : _nodes.GetOrAdd(endPoint, static (ep, t) => t.CreateNode(ep), this);
    }

    private RemoteNode CreateNode(EndPoint endPoint)
    {
        var bulk = new IServer?[_bulk.Length];
        for (int i = 0; i < bulk.Length; i++)
        {
            bulk[i] = ServerOf(_bulk[i], endPoint);
        }

        return new RemoteNode(endPoint, ServerOf(_lookup, endPoint), bulk, _options, _log);
    }

    private static IServer? ServerOf(ConnectionMultiplexer mux, EndPoint endPoint)
    {
        try
        {
            return mux.GetServer(endPoint);
        }
        catch (ArgumentException)
        {
            return null; // not (yet) known to this connection: treated as down
        }
    }

    private int BulkIndex(ChunkKey key) => (int)(key.Low % (ulong)_bulkDb.Length);
}
