using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Hashing;
using System.Net;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;
using TierKv.Chunks;
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
public sealed class RedisTier : IKvTier, IReplacingTier, IMetricsAware, IAsyncDisposable
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
    public async ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = keys.Length;
        if (present.Length < n)
        {
            throw new ArgumentException($"present has {present.Length} entries for {n} keys.", nameof(present));
        }

        present.Span[..n].Clear();
        if (n == 0)
        {
            return;
        }

        Interlocked.Add(ref Counters.ExistsKeys, n);

        // Group the keys by owning node, so each node gets one pipelined batch: one round trip per node.
        var redisKeys = new RedisKey[n];
        var nodeOf = new int[n];
        var nodes = new List<RemoteNode>(4);
        var span = keys.Span;
        for (int i = 0; i < n; i++)
        {
            redisKeys[i] = _scheme.KeyFor(span[i]);
            var node = NodeFor(redisKeys[i]);
            int j = nodes.IndexOf(node);
            if (j < 0)
            {
                nodes.Add(node);
                j = nodes.Count - 1;
            }

            nodeOf[i] = j;
        }

        // Cut the lookup a little before the budget, so finishing up (continuations on a busy machine) stays inside it.
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(20).Ticks, _options.LookupBudget.Ticks / 10));
        budget.CancelAfter(_options.LookupBudget - margin);
        var tasks = new Task[nodes.Count];
        for (int j = 0; j < nodes.Count; j++)
        {
            tasks[j] = ExistsOnNodeAsync(nodes[j], j, redisKeys, nodeOf, present, budget.Token, cancellationToken);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <inheritdoc />
    public async ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (destination.Length != layout.ChunkBytes)
        {
            throw new ArgumentException($"The destination has {destination.Length} bytes; a chunk of this layout has {layout.ChunkBytes}.", nameof(destination));
        }

        RedisKey redisKey = _scheme.KeyFor(key);
        var node = NodeFor(redisKey);
        if (!node.BulkConnected(BulkIndex(key)))
        {
            RecordUnavailable("read");
            return TierReadStatus.Failed;
        }

        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(RemoteNode.AttemptTimeout, _options.ValueTimeout);
        Outcome<Lease<byte>?> outcome;
        try
        {
            outcome = await node.Pipeline.ExecuteOutcomeAsync<Lease<byte>?, (IDatabase Db, RedisKey Key)>(
                static async (ctx, s) =>
                {
                    Task<Lease<byte>?>? get = null;
                    try
                    {
                        get = s.Db.StringGetLeaseAsync(s.Key);
                        return Outcome.FromResult<Lease<byte>?>(await get.WaitAsync(ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex)
                    {
                        DisposeWhenDone(get);
                        return Outcome.FromException<Lease<byte>?>(ex);
                    }
                },
                context,
                (Db: BulkFor(key), Key: redisKey)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (outcome.Exception is { } error)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RecordFailure(error, "read");
            return TierReadStatus.Failed;
        }

        using var lease = outcome.Result;
        if (lease is null)
        {
            Interlocked.Increment(ref Counters.Misses);
            return TierReadStatus.Miss;
        }

        var damage = VerifyInto(layout, key, lease.Span, destination.Span);
        if (damage != ChunkDamage.None)
        {
            RecordDamage(key, redisKey, damage);
            return TierReadStatus.Damaged;
        }

        Interlocked.Increment(ref Counters.Hits);
        return TierReadStatus.Hit;
    }

    /// <inheritdoc />
    public ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        WriteAsync(layout, key, payload, When.NotExists, cancellationToken);

    /// <inheritdoc />
    public ValueTask<TierWriteStatus> ReplaceAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        WriteAsync(layout, key, payload, When.Always, cancellationToken);

    /// <summary>
    /// One <c>SET</c> of a chunk: <see cref="When.NotExists"/> for content-addressed chunks (a chunk is immutable once
    /// stored: equal keys mean equal prefixes, so a second writer changes nothing), <see cref="When.Always"/> for a
    /// value that replaces an older version (Redis replaces it atomically: a reader sees the old or the new).
    /// </summary>
    private async ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ReadOnlyMemory<byte> payload, When when, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (payload.Length != layout.ChunkBytes)
        {
            throw new ArgumentException($"The payload has {payload.Length} bytes; a chunk of this layout has {layout.ChunkBytes}.", nameof(payload));
        }

        RedisKey redisKey = _scheme.KeyFor(key);
        var node = NodeFor(redisKey);
        if (!node.BulkConnected(BulkIndex(key)))
        {
            RecordUnavailable("write");
            return TierWriteStatus.Failed;
        }

        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(RemoteNode.AttemptTimeout, _options.ValueTimeout);
        context.Properties.Set(RemoteNode.NoRetry, true);
        Outcome<bool> outcome;
        try
        {
            outcome = await node.Pipeline.ExecuteOutcomeAsync(
                static async (ctx, s) =>
                {
                    Task<bool>? set = null;
                    try
                    {
                        // Header in front of the caller's payload, sent as two pieces: the payload is hashed once
                        // and never copied. Should a timeout abandon the write and the caller reuse its buffer while
                        // the client still sends it, the stored bytes would not match the header's checksum: a miss
                        // for every reader, never wrong data.
                        var header = new byte[ChunkHeader.Size];
                        ChunkHeader.For(s.Layout, s.Key, s.Payload.Span).WriteTo(header);

                        set = s.Db.StringSetAsync(s.RedisKey, ValueSegment.Concat(header, s.Payload), s.Expiry, s.When);
                        return Outcome.FromResult(await set.WaitAsync(ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex)
                    {
                        if (set is not null)
                        {
                            Observe(set);
                        }

                        return Outcome.FromException<bool>(ex);
                    }
                },
                context,
                (Db: BulkFor(key), RedisKey: redisKey, Layout: layout, Key: key, Payload: payload, _options.Expiry, When: when)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (outcome.Exception is { } error)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RecordFailure(error, "write");
            return TierWriteStatus.Failed;
        }

        if (!outcome.Result)
        {
            Interlocked.Increment(ref Counters.AlreadyPresent);
            return TierWriteStatus.AlreadyPresent;
        }

        Interlocked.Increment(ref Counters.Writes);
        return TierWriteStatus.Stored;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        RedisKey redisKey = _scheme.KeyFor(key);
        var node = NodeFor(redisKey);
        if (!node.LookupConnected)
        {
            RecordUnavailable("remove");
            return false;
        }

        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(RemoteNode.AttemptTimeout, _options.LookupTimeout);
        Outcome<bool> outcome;
        try
        {
            outcome = await node.Pipeline.ExecuteOutcomeAsync(
                static async (ctx, s) =>
                {
                    try
                    {
                        return Outcome.FromResult(await s.Db.KeyDeleteAsync(s.Key).WaitAsync(ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex)
                    {
                        return Outcome.FromException<bool>(ex);
                    }
                },
                context,
                (Db: _lookupDb, Key: redisKey)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (outcome.Exception is { } error)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RecordFailure(error, "remove");
            return false;
        }

        return outcome.Result;
    }

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

    private static ChunkDamage VerifyInto(KvLayout layout, ChunkKey key, ReadOnlySpan<byte> encoded, Span<byte> destination)
    {
        var damage = ChunkHeader.TryRead(encoded, out var header);
        if (damage == ChunkDamage.None)
        {
            damage = ChunkCodec.VerifyHeader(header, layout.Fingerprint, key, layout.ChunkBytes);
        }

        if (damage != ChunkDamage.None)
        {
            return damage;
        }

        var body = encoded[ChunkHeader.Size..];
        if (body.Length != destination.Length)
        {
            return ChunkDamage.Truncated;
        }

        // Copy and hash block by block, so each block is hashed while it is still in cache: one pass over the value
        // instead of a hashing pass and then a copying pass. Same XXH3-64 (seed 0) as ChunkCodec.Verify.
        var hasher = t_hasher ??= new XxHash3();
        hasher.Reset();
        const int block = 256 * 1024;
        for (int o = 0; o < body.Length; o += block)
        {
            int len = Math.Min(block, body.Length - o);
            var src = body.Slice(o, len);
            src.CopyTo(destination.Slice(o, len));
            hasher.Append(destination.Slice(o, len));
        }

        // The bytes hashed are the bytes delivered: a mismatch means the copy the caller holds is bad, and it is a miss.
        return hasher.GetCurrentHashAsUInt64() == header.PayloadChecksum ? ChunkDamage.None : ChunkDamage.BadChecksum;
    }

    private static void DisposeWhenDone(Task<Lease<byte>?>? pending)
    {
        pending?.ContinueWith(
            static t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    t.Result?.Dispose();
                }
                else
                {
                    _ = t.Exception;
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static void Observe(Task pending) =>
        pending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

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

    private void RecordUnavailable(string operation)
    {
        // Counted like any failure, without waiting for a connection the client is still trying to make.
        Interlocked.Increment(ref Counters.Failures);
        _metrics?.RecordIoError(_tierCounters!, operation);
        if (Interlocked.Exchange(ref _failureLogged, 1) == 0)
        {
            _log?.Invoke($"remote tier: {operation} found the owning node disconnected; served as a miss (further failures are counted, and logged when a node's circuit opens or closes)");
        }
    }

    private async Task ExistsOnNodeAsync(RemoteNode node, int nodeIndex, RedisKey[] keys, int[] nodeOf, Memory<bool> present, CancellationToken budget, CancellationToken caller)
    {
        int count = 0;
        foreach (int j in nodeOf)
        {
            if (j == nodeIndex)
            {
                count++;
            }
        }

        if (!node.LookupConnected)
        {
            RecordUnavailable("exists");
            return;
        }

        var indices = new int[count];
        for (int i = 0, k = 0; i < nodeOf.Length; i++)
        {
            if (nodeOf[i] == nodeIndex)
            {
                indices[k++] = i;
            }
        }

        var context = ResilienceContextPool.Shared.Get(budget);
        context.Properties.Set(RemoteNode.AttemptTimeout, _options.LookupTimeout);
        Outcome<bool> outcome;
        try
        {
            outcome = await node.Pipeline.ExecuteOutcomeAsync(
                static async (ctx, s) =>
                {
                    try
                    {
                        var batch = s.Db.CreateBatch();
                        var answers = new Task<bool>[s.Indices.Length];
                        for (int k = 0; k < answers.Length; k++)
                        {
                            answers[k] = batch.KeyExistsAsync(s.Keys[s.Indices[k]]);
                        }

                        batch.Execute();
                        var all = Task.WhenAll(answers);
                        try
                        {
                            await all.WaitAsync(ctx.CancellationToken).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            Observe(all);
                            throw;
                        }

                        var p = s.Present.Span;
                        for (int k = 0; k < answers.Length; k++)
                        {
                            p[s.Indices[k]] = answers[k].Result;
                        }

                        return Outcome.FromResult(true);
                    }
                    catch (Exception ex)
                    {
                        return Outcome.FromException<bool>(ex);
                    }
                },
                context,
                (Db: _lookupDb, Keys: keys, Indices: indices, Present: present)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (outcome.Exception is { } error && !caller.IsCancellationRequested)
        {
            if (error is OperationCanceledException && budget.IsCancellationRequested)
            {
                Interlocked.Increment(ref Counters.BudgetExceeded);
            }

            RecordFailure(error, "exists");
        }
    }

    private void RecordFailure(Exception error, string operation)
    {
        if (error is BrokenCircuitException)
        {
            Interlocked.Increment(ref Counters.Rejected);
        }
        else
        {
            Interlocked.Increment(ref Counters.Failures);
            if (Interlocked.Exchange(ref _failureLogged, 1) == 0)
            {
                _log?.Invoke($"remote tier: {operation} failed ({error.GetType().Name}: {error.Message}); served as a miss (further failures are counted, and logged when a node's circuit opens or closes)");
            }
        }

        if (_metrics is not null)
        {
            _metrics.RecordIoError(_tierCounters!, operation);
        }
    }

    private void RecordDamage(ChunkKey key, RedisKey redisKey, ChunkDamage damage)
    {
        Interlocked.Increment(ref Counters.Damaged);
        _metrics?.RecordChecksumFailure(_tierCounters!, damage.ToString());
        if (Interlocked.Exchange(ref _damageLogged, 1) == 0)
        {
            _log?.Invoke($"remote tier: chunk {key} failed verification ({damage}); served as a miss and deleted (further damage is counted, not logged)");
        }

        // Drop the bad value so the next writer can store a good one (writes are SET NX).
        try
        {
            _lookupDb.KeyDelete(redisKey, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            Debug.WriteLine("remote tier: could not delete a damaged chunk; it stays a miss");
        }
    }
}
