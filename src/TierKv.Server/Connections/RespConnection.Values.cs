namespace TierKv.Server.Connections;

/// <summary>
/// Reads: GET, KV.GET and MGET. They reach the tiers only through the tenant's <see cref="TenantStore"/>; large values
/// are sent from their DRAM record (or the read buffer of a lower tier) in place.
/// </summary>
internal sealed partial class RespConnection
{
    private ChunkKey[]? _keys;

    private ChunkKey[] Keys => _keys ??= new ChunkKey[_limits.MaxArrayLength];

    /// <summary>Which of MGET's names could be keys (an empty or over-long name is simply absent).</summary>
    private bool[]? _mapped;

    private ValueTask<bool> Get(ReadOnlySpan<byte> name)
    {
        var tenant = _tenant!;
        if (!KeyNames.TryMap(name, out var clientKey))
        {
            return Fail(Replies.BadKeyName);
        }

        return GetValue(tenant.Scope(clientKey));
    }

    /// <summary>Writes one value (or null) as a reply; completes synchronously for DRAM values that fit the reply buffer.</summary>
    private ValueTask<bool> GetValue(ChunkKey key)
    {
        var tenant = _tenant!;
        long t0 = Stopwatch.GetTimestamp();
        if (!tenant.Values.TryGetInDram(key, out var lease, out var info))
        {
            if (tenant.Values.HasLowerTiers)
            {
                return GetBelowAsync(key, t0);
            }

            tenant.Stats.RecordGetMiss();
            _out.Null();
            return True;
        }

        int length = info.ValueLength;
        tenant.Stats.RecordGetHit(length);
        if (length <= InlineValueBytes && length + 32 <= _out.Free)
        {
            try
            {
                _out.Bulk(lease.Span.Slice(info.ValueOffset, length));
            }
            finally
            {
                lease.Dispose();
            }

            RecordDramGet(tenant, length, t0);
            return True;
        }

        return SendLeaseAsync(lease, info, t0);
    }

    /// <summary>MGET key [key ...]: an array with each value or null (Redis semantics: a missing key is null, never an error).</summary>
    private ValueTask<bool> MGet(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("mget");
        }

        var tenant = _tenant!;
        var keys = Keys;
        var mapped = _mapped ??= new bool[_limits.MaxArrayLength];
        int n = argc - 1;
        for (int i = 0; i < n; i++)
        {
            // A name that cannot be a key (empty, too long) is simply absent, as in Redis.
            mapped[i] = KeyNames.TryMap(Arg(src, _args[i + 1]), out var k);
            keys[i] = mapped[i] ? tenant.Scope(k) : default;
        }

        _out.ArrayHeader(n);
        return MGetAsync(n);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> MGetAsync(int n)
    {
        for (int i = 0; i < n; i++)
        {
            if (_out.Free < InlineValueBytes + 64)
            {
                await FlushAsync().ConfigureAwait(false);
            }

            var key = _keys![i];
            if (!_mapped![i])
            {
                _out.Null();
                continue;
            }

            var vt = GetValue(key);
            if (!vt.IsCompletedSuccessfully)
            {
                await vt.ConfigureAwait(false);
            }
        }

        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendLeaseAsync(ChunkLease lease, RecordInfo info, long t0)
    {
        try
        {
            _out.BulkHeader(info.ValueLength);
            await FlushAsync().ConfigureAwait(false);
            await SendAsync(_window.Over(lease.Pointer + info.ValueOffset, info.ValueLength)).ConfigureAwait(false);
        }
        finally
        {
            _window.Clear();
            lease.Dispose();
        }

        _out.Crlf();
        RecordDramGet(_tenant!, info.ValueLength, t0);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> GetBelowAsync(ChunkKey key, long t0)
    {
        var tenant = _tenant!;
        var pool = _server.Tenants.ReadBuffers;
        nint buf = pool.Rent();
        try
        {
            var info = await tenant.Values.ReadBelowAsync(key, _window.Over(buf, pool.RecordBytes)).ConfigureAwait(false);
            if (info.ValueLength < 0)
            {
                tenant.Stats.RecordGetMiss();
                _out.Null();
                return true;
            }

            int len = info.ValueLength;
            tenant.Stats.RecordGetHit(len);
            _out.BulkHeader(len);
            await FlushAsync().ConfigureAwait(false);
            await SendAsync(_window.Over(buf + info.ValueOffset, len)).ConfigureAwait(false);
            _out.Crlf();
            tenant.Stats.GetLatency.RecordNanoseconds((long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
            return true;
        }
        finally
        {
            _window.Clear();
            pool.Return(buf);
        }
    }

    private static void RecordDramGet(Tenant tenant, int bytes, long t0)
    {
        long ns = (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
        tenant.Stats.GetLatency.RecordNanoseconds(ns);
        tenant.Store.Metrics.RecordRead(tenant.DramCounters, bytes, ns / 1e9);
    }
}
