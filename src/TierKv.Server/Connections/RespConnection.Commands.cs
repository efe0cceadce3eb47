using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using TierKv.Keys;
using TierKv.Server.Hosting;
using TierKv.Server.Protocol;
using TierKv.Server.Tenants;
using TierKv.Tiers;

namespace TierKv.Server.Connections;

/// <summary>Command execution: each command writes its reply into the reply buffer; GET and SET of large values move bytes in place.</summary>
internal sealed partial class RespConnection
{
    private ChunkKey[]? _keys;

    private static ReadOnlySpan<byte> Arg(ReadOnlySpan<byte> src, ArgRange a) => src.Slice(a.Offset, a.Length);

    /// <summary>Executes a fully buffered command; false closes the connection after the reply is flushed.</summary>
    private ValueTask<bool> ExecuteAsync(ReadOnlyMemory<byte> memory, int argc)
    {
        var src = memory.Span;
        var kind = CommandNames.Parse(Arg(src, _args[0]));
        _server.Instruments.Command(kind, _tenant);
        if (_tenant is null && !CommandNames.AllowedBeforeAuth(kind))
        {
            return Fail("NOAUTH Authentication required.");
        }

        var tenant = _tenant;
        if (tenant is not null)
        {
            Interlocked.Increment(ref tenant.Stats.Commands);
        }

        switch (kind)
        {
            case CommandKind.Ping:
                if (argc > 2)
                {
                    return WrongArgs("ping");
                }

                if (argc == 2)
                {
                    _out.Bulk(Arg(src, _args[1]));
                }
                else
                {
                    _out.Pong();
                }

                return True;
            case CommandKind.Echo:
                if (argc != 2)
                {
                    return WrongArgs("echo");
                }

                _out.Bulk(Arg(src, _args[1]));
                return True;
            case CommandKind.Quit:
                _out.Ok();
                return new ValueTask<bool>(false);
            case CommandKind.Hello:
                return Hello(src, argc);
            case CommandKind.Auth:
                return Auth(argc == 2 ? default : Arg(src, _args[1]), argc is 2 or 3 ? Arg(src, _args[argc - 1]) : default, argc);
            case CommandKind.Client:
                return Client(src, argc);
            case CommandKind.Command:
                if (argc >= 2 && Ascii.EqualsIgnoreCase(Arg(src, _args[1]), "COUNT"u8))
                {
                    _out.Integer((int)CommandKind.KvStats);
                }
                else
                {
                    _out.ArrayHeader(0);
                }

                return True;
            case CommandKind.Select:
                if (argc == 2 && Arg(src, _args[1]).SequenceEqual("0"u8))
                {
                    _out.Ok();
                    return True;
                }

                return Fail("ERR DB index is out of range");
            case CommandKind.Config:
                if (argc >= 2 && Ascii.EqualsIgnoreCase(Arg(src, _args[1]), "GET"u8))
                {
                    _out.MapHeader(0);
                    return True;
                }

                return Fail("ERR CONFIG is not supported by TierKV; configure the server with its file, environment or command line");
            case CommandKind.Cluster:
                return Fail("ERR This instance has cluster support disabled");
            case CommandKind.Info:
                _out.Verbatim(ServerReports.Info(_server, tenant!));
                return True;
            case CommandKind.KvStats:
                ServerReports.WriteStats(_out, _server, tenant!);
                return True;
            case CommandKind.DbSize:
                _out.Integer(tenant!.Dram.ChunkCount + SlowerChunkCount(tenant));
                return True;
            case CommandKind.Get:
            case CommandKind.KvGet:
                if (argc != 2)
                {
                    return WrongArgs(kind == CommandKind.Get ? "get" : "kv.get");
                }

                return Get(Arg(src, _args[1]));
            case CommandKind.Set:
            case CommandKind.KvPut:
                return PutBuffered(kind, src, argc);
            case CommandKind.Exists:
            case CommandKind.KvExists:
                return Exists(kind, src, argc);
            case CommandKind.Del:
            case CommandKind.KvDel:
                return Delete(src, argc);
            case CommandKind.KvLookup:
                return Lookup(src, argc);
            default:
                return Fail($"ERR unknown command '{CommandNames.Printable(Arg(src, _args[0]))}'");
        }
    }

    private static ValueTask<bool> True => new(true);

    private ValueTask<bool> Fail(string message)
    {
        if (_tenant is not null)
        {
            Interlocked.Increment(ref _tenant.Stats.Errors);
        }

        _out.Error(message);
        return True;
    }

    private ValueTask<bool> WrongArgs(string command) => Fail($"ERR wrong number of arguments for '{command}' command");

    private ValueTask<bool> Hello(ReadOnlySpan<byte> src, int argc)
    {
        int proto = _out.Protocol;
        int i = 1;
        if (argc >= 2)
        {
            var v = Arg(src, _args[1]);
            if (v.SequenceEqual("2"u8))
            {
                proto = 2;
            }
            else if (v.SequenceEqual("3"u8))
            {
                proto = 3;
            }
            else
            {
                return Fail("NOPROTO unsupported protocol version");
            }

            i = 2;
        }

        while (i < argc)
        {
            var opt = Arg(src, _args[i]);
            if (Ascii.EqualsIgnoreCase(opt, "AUTH"u8) && i + 2 < argc)
            {
                var t = _server.Tenants.AuthRequired ? _server.Tenants.Authenticate(Arg(src, _args[i + 1]), Arg(src, _args[i + 2])) : null;
                if (t is null)
                {
                    _server.Instruments.AuthFailure();
                    return Fail(_server.Tenants.AuthRequired ? "WRONGPASS invalid username-password pair or user is disabled." : "ERR AUTH called without any password configured for the default user.");
                }

                _tenant = t;
                i += 3;
            }
            else if (Ascii.EqualsIgnoreCase(opt, "SETNAME"u8) && i + 1 < argc)
            {
                ClientName = Encoding.UTF8.GetString(Arg(src, _args[i + 1])[..Math.Min(_args[i + 1].Length, 128)]);
                i += 2;
            }
            else
            {
                return Fail($"ERR Syntax error in HELLO option '{CommandNames.Printable(opt)}'");
            }
        }

        if (_tenant is null)
        {
            return Fail("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }

        _out.Protocol = proto;
        _out.MapHeader(7);
        _out.Bulk("server"u8);
        _out.Bulk("redis"u8);
        _out.Bulk("version"u8);
        _out.Bulk(ServerReports.CompatibleVersion);
        _out.Bulk("proto"u8);
        _out.Integer(proto);
        _out.Bulk("id"u8);
        _out.Integer(Id);
        _out.Bulk("mode"u8);
        _out.Bulk("standalone"u8);
        _out.Bulk("role"u8);
        _out.Bulk("master"u8);
        _out.Bulk("modules"u8);
        _out.ArrayHeader(0);
        return True;
    }

    private ValueTask<bool> Auth(ReadOnlySpan<byte> user, ReadOnlySpan<byte> token, int argc)
    {
        if (argc is not (2 or 3))
        {
            return WrongArgs("auth");
        }

        if (!_server.Tenants.AuthRequired)
        {
            return Fail("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        }

        var t = _server.Tenants.Authenticate(user, token);
        if (t is null)
        {
            _server.Instruments.AuthFailure();
            return Fail("WRONGPASS invalid username-password pair or user is disabled.");
        }

        _tenant = t;
        _out.Ok();
        return True;
    }

    private ValueTask<bool> Client(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("client");
        }

        var sub = Arg(src, _args[1]);
        if (Ascii.EqualsIgnoreCase(sub, "SETNAME"u8) && argc == 3)
        {
            var name = Arg(src, _args[2]);
            if (name.Length > 128 || name.Contains((byte)' '))
            {
                return Fail("ERR Client names cannot contain spaces, newlines or special characters, and are at most 128 bytes.");
            }

            ClientName = Encoding.UTF8.GetString(name);
            _out.Ok();
        }
        else if (Ascii.EqualsIgnoreCase(sub, "GETNAME"u8))
        {
            if (ClientName is null)
            {
                _out.Null();
            }
            else
            {
                _out.Bulk(ClientName);
            }
        }
        else if (Ascii.EqualsIgnoreCase(sub, "ID"u8))
        {
            _out.Integer(Id);
        }
        else if (Ascii.EqualsIgnoreCase(sub, "SETINFO"u8))
        {
            _out.Ok();
        }
        else
        {
            return Fail($"ERR unknown subcommand '{CommandNames.Printable(sub)}'. Try CLIENT SETNAME, GETNAME, ID.");
        }

        return True;
    }

    private ValueTask<bool> Get(ReadOnlySpan<byte> name)
    {
        var tenant = _tenant!;
        if (!KeyNames.TryMap(name, out var clientKey))
        {
            return Fail($"ERR key names are 1 to {KeyNames.MaxNameBytes} bytes");
        }

        var key = tenant.Scope(clientKey);
        long t0 = Stopwatch.GetTimestamp();
        if (!tenant.Dram.TryAcquire(key, out var lease))
        {
            if (tenant.Store.Tiers.Count > 1)
            {
                return GetFromSlowerTierAsync(key, t0);
            }

            Interlocked.Increment(ref tenant.Stats.GetMisses);
            _out.Null();
            return True;
        }

        int length = ValueRecord.ReadLength(lease.Span);
        if (length < 0)
        {
            lease.Dispose();
            Interlocked.Increment(ref tenant.Stats.GetMisses);
            _out.Null();
            return True;
        }

        Interlocked.Increment(ref tenant.Stats.GetHits);
        Interlocked.Add(ref tenant.Stats.BytesOut, length);
        if (length <= InlineValueBytes && length + 32 <= _out.Free)
        {
            try
            {
                _out.Bulk(lease.Span.Slice(ValueRecord.PrefixBytes, length));
            }
            finally
            {
                lease.Dispose();
            }

            RecordGet(tenant, length, t0);
            return True;
        }

        return SendLeaseAsync(lease, length, t0);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendLeaseAsync(ChunkLease lease, int length, long t0)
    {
        try
        {
            _out.BulkHeader(length);
            await FlushAsync().ConfigureAwait(false);
            await SendLargeAsync(lease.Pointer + ValueRecord.PrefixBytes, length).ConfigureAwait(false);
        }
        finally
        {
            _window.Clear();
            lease.Dispose();
        }

        _out.Crlf();
        RecordGet(_tenant!, length, t0);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> GetFromSlowerTierAsync(ChunkKey key, long t0)
    {
        var tenant = _tenant!;
        int record = _server.Tenants.RecordBytes;
        byte[] buf = ArrayPool<byte>.Shared.Rent(record);
        try
        {
            int len = await ServerStore.ReadSlowAsync(tenant, _server.Tenants.ValueLayout, key, buf.AsMemory(0, record)).ConfigureAwait(false);
            if (len < 0)
            {
                Interlocked.Increment(ref tenant.Stats.GetMisses);
                _out.Null();
                return true;
            }

            Interlocked.Increment(ref tenant.Stats.GetHits);
            Interlocked.Add(ref tenant.Stats.BytesOut, len);
            _out.BulkHeader(len);
            await FlushAsync().ConfigureAwait(false);
            await SendLargeAsync(buf, ValueRecord.PrefixBytes, len).ConfigureAwait(false);
            _out.Crlf();
            long ns = (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
            tenant.Stats.GetLatency.RecordNanoseconds(ns);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    private static void RecordGet(Tenants.Tenant tenant, int bytes, long t0)
    {
        long ns = (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
        tenant.Stats.GetLatency.RecordNanoseconds(ns);
        tenant.Store.Metrics.RecordRead(tenant.DramCounters, bytes, ns / 1e9);
    }

    /// <summary>SET or KV.PUT whose value arrived with the command (small values).</summary>
    private ValueTask<bool> PutBuffered(CommandKind kind, ReadOnlySpan<byte> src, int argc)
    {
        if (!ParsePut(kind, src, argc, out var key, out var parent, out string? error))
        {
            return Fail(error!);
        }

        var tenant = _tenant!;
        var value = Arg(src, _args[argc - 1]);
        int max = _server.Options.EffectiveSlotBytes;
        if (value.IsEmpty || value.Length > max)
        {
            Interlocked.Increment(ref tenant.Stats.PutRejections);
            return Fail($"ERR values are 1 to {max} bytes (the slot size); got {value.Length}");
        }

        long t0 = Stopwatch.GetTimestamp();
        if (kind == CommandKind.Set)
        {
            Overwrite(tenant, key);
        }

        var status = tenant.Dram.TryBeginWrite(key, _server.Tenants.RecordBytes, out var reservation);
        if (status == TierWriteStatus.Stored)
        {
            var span = reservation.Span;
            ValueRecord.WritePrefix(span, value.Length);
            value.CopyTo(span[ValueRecord.PrefixBytes..]);
            status = Commit(tenant, reservation, parent);
        }

        return Stored(tenant, kind, status, value.Length, t0);
    }

    /// <summary>SET replaces: drop the old value everywhere (KV.PUT keeps the first copy: equal keys mean equal content).</summary>
    private static void Overwrite(Tenant tenant, in ChunkKey key)
    {
        tenant.Dram.Remove(key);
        if (tenant.Lower is { } lower && lower.Contains(key))
        {
            _ = lower.RemoveAsync(key).AsTask();
        }
    }

    /// <summary>Publishes a filled record, then (write-through) hands a copy to the SSD tier's background writer.</summary>
    private TierWriteStatus Commit(Tenant tenant, in ChunkWriteReservation reservation, ChunkKey? parent)
    {
        var status = tenant.Dram.CommitWrite(_server.Tenants.ValueLayout, reservation, parent);
        if (status == TierWriteStatus.Stored && tenant.WriteThrough && tenant.Dram.TryAcquire(reservation.Key, out var lease))
        {
            using (lease)
            {
                // Never blocks: a full SSD queue sheds the copy (counted by the tier); DRAM still holds the value.
                var s = tenant.Lower!.TryWriteBehind(_server.Tenants.ValueLayout, reservation.Key, parent, lease.Span);
                if (s == TierWriteStatus.Stored)
                {
                    tenant.Store.Metrics.RecordWrite(tenant.Store.Metrics.ForTier(tenant.Lower.Name), lease.Length, 0);
                }
            }
        }

        return status;
    }

    private ValueTask<bool> Stored(Tenants.Tenant tenant, CommandKind kind, TierWriteStatus status, int length, long t0)
    {
        switch (status)
        {
            case TierWriteStatus.Stored:
                long ns = (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
                Interlocked.Increment(ref tenant.Stats.Puts);
                Interlocked.Add(ref tenant.Stats.BytesIn, length);
                tenant.Stats.PutLatency.RecordNanoseconds(ns);
                tenant.Store.Metrics.RecordWrite(tenant.DramCounters, length, ns / 1e9);
                if (kind == CommandKind.Set)
                {
                    _out.Ok();
                }
                else
                {
                    _out.Integer(1);
                }

                return True;
            case TierWriteStatus.AlreadyPresent:
                if (kind == CommandKind.Set)
                {
                    _out.Ok();
                }
                else
                {
                    _out.Integer(0);
                }

                return True;
            default:
                Interlocked.Increment(ref tenant.Stats.PutRejections);
                return Fail("ERR no space: every DRAM slot of this tenant is being read; retry later");
        }
    }

    /// <summary>Parses <c>SET key value</c>, <c>KV.PUT key value</c> or <c>KV.PUT key PARENT parent value</c>.</summary>
    private bool ParsePut(CommandKind kind, ReadOnlySpan<byte> src, int argc, out ChunkKey key, out ChunkKey? parent, out string? error)
    {
        key = default;
        parent = null;
        error = null;
        bool ok = kind == CommandKind.Set ? argc == 3 : argc is 3 or 5;
        if (!ok)
        {
            error = kind == CommandKind.Set
                ? "ERR wrong number of arguments for 'set' command (TierKV takes SET key value, without options)"
                : "ERR wrong number of arguments for 'kv.put' command: KV.PUT key [PARENT parent] value";
            return false;
        }

        var tenant = _tenant!;
        if (!KeyNames.TryMap(Arg(src, _args[1]), out var k))
        {
            error = $"ERR key names are 1 to {KeyNames.MaxNameBytes} bytes";
            return false;
        }

        key = tenant.Scope(k);
        if (argc == 5)
        {
            if (!Ascii.EqualsIgnoreCase(Arg(src, _args[2]), "PARENT"u8) || !KeyNames.TryMap(Arg(src, _args[3]), out var p))
            {
                error = "ERR syntax error: KV.PUT key [PARENT parent] value";
                return false;
            }

            parent = tenant.Scope(p);
        }

        return true;
    }

    private ValueTask<bool> Exists(CommandKind kind, ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs(kind == CommandKind.Exists ? "exists" : "kv.exists");
        }

        var tenant = _tenant!;
        if (kind == CommandKind.KvExists)
        {
            _out.ArrayHeader(argc - 1);
        }

        int count = 0;
        for (int i = 1; i < argc; i++)
        {
            bool present = KeyNames.TryMap(Arg(src, _args[i]), out var k) && ServerStore.Contains(tenant, tenant.Scope(k));
            if (kind == CommandKind.KvExists)
            {
                _out.Integer(present ? 1 : 0);
            }

            count += present ? 1 : 0;
        }

        if (kind == CommandKind.Exists)
        {
            _out.Integer(count);
        }

        return True;
    }

    private ValueTask<bool> Delete(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("del");
        }

        var tenant = _tenant!;
        int removed = 0;
        bool slow = tenant.Store.Tiers.Count > 1;
        for (int i = 1; i < argc; i++)
        {
            if (!KeyNames.TryMap(Arg(src, _args[i]), out var k))
            {
                continue;
            }

            var key = tenant.Scope(k);
            if (slow)
            {
                var keys = _keys ??= new ChunkKey[_limits.MaxArrayLength];
                keys[i - 1] = key;
            }
            else if (tenant.Dram.Remove(key))
            {
                removed++;
            }
        }

        if (slow)
        {
            return DeleteSlowAsync(tenant, argc - 1);
        }

        _out.Integer(removed);
        return True;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DeleteSlowAsync(Tenants.Tenant tenant, int count)
    {
        int removed = 0;
        for (int i = 0; i < count; i++)
        {
            if (await tenant.Store.RemoveAsync(_keys![i]).ConfigureAwait(false))
            {
                removed++;
            }
        }

        _out.Integer(removed);
        return true;
    }

    /// <summary><c>KV.LOOKUP KEYS k1 .. kn</c> (leading chunks held) or <c>KV.LOOKUP TOKENS blob</c> (leading tokens held).</summary>
    private ValueTask<bool> Lookup(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("kv.lookup");
        }

        var tenant = _tenant!;
        var layout = _server.Tenants.Layout;
        long t0 = Stopwatch.GetTimestamp();
        var mode = Arg(src, _args[1]);
        if (Ascii.EqualsIgnoreCase(mode, "KEYS"u8))
        {
            int n = argc - 2;
            var keys = _keys ??= new ChunkKey[_limits.MaxArrayLength];
            for (int i = 0; i < n; i++)
            {
                if (!KeyNames.TryMap(Arg(src, _args[i + 2]), out var k))
                {
                    return Fail($"ERR key {i + 1} of KV.LOOKUP is not a valid key name");
                }

                keys[i] = tenant.Scope(k);
            }

            int tokens = tenant.Store.Lookup(layout, keys.AsSpan(0, n));
            int chunks = tokens / layout.TokensPerChunk;
            _out.Integer(chunks);
            RecordLookup(tenant, (long)n * layout.TokensPerChunk, t0);
            _server.Trace?.Record(tenant.Index, n * layout.TokensPerChunk, keys.AsSpan(0, n));
            return True;
        }

        if (Ascii.EqualsIgnoreCase(mode, "TOKENS"u8) && argc == 3)
        {
            var blob = Arg(src, _args[2]);
            if (blob.Length % 4 != 0)
            {
                return Fail("ERR KV.LOOKUP TOKENS takes the token ids as one blob of little-endian 32-bit integers");
            }

            var tokenIds = MemoryMarshal.Cast<byte, int>(blob);
            int n = PrefixHasher.FullChunks(layout, tokenIds.Length);
            var keys = _keys is { } have && have.Length >= n ? have : (_keys = new ChunkKey[Math.Max(n, _limits.MaxArrayLength)]);
            PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokenIds, keys);
            for (int i = 0; i < n; i++)
            {
                keys[i] = tenant.Scope(keys[i]);
            }

            int hit = tenant.Store.Lookup(layout, keys.AsSpan(0, n));
            _out.Integer(hit);
            RecordLookup(tenant, tokenIds.Length, t0);
            _server.Trace?.Record(tenant.Index, tokenIds.Length, keys.AsSpan(0, n));
            return True;
        }

        return Fail("ERR syntax: KV.LOOKUP KEYS key [key ...] | KV.LOOKUP TOKENS blob");
    }

    private static void RecordLookup(Tenants.Tenant tenant, long requestedTokens, long t0)
    {
        Interlocked.Increment(ref tenant.Stats.Lookups);
        Interlocked.Add(ref tenant.Stats.LookupRequestedTokens, requestedTokens);
        tenant.Stats.LookupLatency.RecordNanoseconds((long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
    }

    private static long SlowerChunkCount(Tenants.Tenant tenant)
    {
        long n = 0;
        for (int i = 1; i < tenant.Store.Tiers.Count; i++)
        {
            n += tenant.Store.Tiers[i].ChunkCount;
        }

        return n;
    }

    /// <summary>What a command with a streamed last argument needs once the buffered part is released.</summary>
    private readonly record struct TailCommand(CommandKind Kind, ChunkKey Key, ChunkKey? Parent, string? Error, byte[]? Materialized);

    /// <summary>Reads what a command with a large last argument needs from its buffered part (still valid here).</summary>
    private TailCommand PrepareTail(ReadOnlyMemory<byte> memory, int argc, int consumed, long tail)
    {
        var src = memory.Span;
        var kind = CommandNames.Parse(Arg(src, _args[0]));
        if (_tenant is null && !CommandNames.AllowedBeforeAuth(kind))
        {
            _server.Instruments.Command(kind, _tenant);
            return new TailCommand(kind, default, null, "NOAUTH Authentication required.", null);
        }

        if (kind is CommandKind.Set or CommandKind.KvPut)
        {
            // Other commands are counted when their materialized copy executes.
            _server.Instruments.Command(kind, _tenant);
            if (_tenant is not null)
            {
                Interlocked.Increment(ref _tenant.Stats.Commands);
            }

            return ParsePut(kind, src, argc, out var key, out var parent, out string? error)
                ? new TailCommand(kind, key, parent, null, null)
                : new TailCommand(kind, default, null, error, null);
        }

        // Any other command with a large argument (a long token list) is materialized whole, within the command bound.
        long total = consumed + tail + 2;
        if (total > _limits.MaxCommandBytes)
        {
            return new TailCommand(kind, default, null, $"ERR Protocol error: command exceeds {_limits.MaxCommandBytes} bytes", null);
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent((int)total);
        src[..consumed].CopyTo(copy);
        return new TailCommand(kind, default, null, null, copy);
    }

    /// <summary>Runs a command whose last argument is still arriving; false closes the connection.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ExecuteTailAsync(TailCommand cmd, ReadOnlyMemory<byte> unusedSource, int argc, int consumed, long tail)
    {
        _ = unusedSource;
        if (cmd.Error is not null)
        {
            if (_tenant is not null)
            {
                Interlocked.Increment(ref _tenant.Stats.Errors);
            }

            _out.Error(cmd.Error);
            if (cmd.Error.StartsWith("ERR Protocol", StringComparison.Ordinal))
            {
                return false;
            }

            return await DiscardAsync(tail + 2).ConfigureAwait(false);
        }

        if (cmd.Materialized is { } copy)
        {
            try
            {
                int total = consumed + (int)tail + 2;
                if (!await FillAsync(copy.AsMemory(consumed, (int)tail + 2)).ConfigureAwait(false))
                {
                    return false;
                }

                var st = RespParser.TryParse(copy.AsSpan(0, total), _materializedLimits, _args, out int n, out _, out _, out _);
                if (st != ParseStatus.Complete || n != argc)
                {
                    _out.Error("ERR Protocol error: bulk string not terminated by CRLF");
                    return false;
                }

                return await ExecuteAsync(copy.AsMemory(0, total), argc).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }

        var tenant = _tenant!;
        int max = _server.Options.EffectiveSlotBytes;
        if (tail > max)
        {
            Interlocked.Increment(ref tenant.Stats.PutRejections);
            _out.Error($"ERR values are 1 to {max} bytes (the slot size); got {tail}");
            return await DiscardAsync(tail + 2).ConfigureAwait(false);
        }

        long t0 = Stopwatch.GetTimestamp();
        if (cmd.Kind == CommandKind.Set)
        {
            Overwrite(tenant, cmd.Key);
        }

        var status = tenant.Dram.TryBeginWrite(cmd.Key, _server.Tenants.RecordBytes, out var reservation);
        if (status != TierWriteStatus.Stored)
        {
            // Already held (KV.PUT keeps the first copy: equal keys mean equal content) or no slot free.
            if (!await DiscardAsync(tail + 2).ConfigureAwait(false))
            {
                return false;
            }

            await Stored(tenant, cmd.Kind, status, (int)tail, t0).ConfigureAwait(false);
            return true;
        }

        bool committed = false;
        try
        {
            ValueRecord.WritePrefix(reservation.Span, (int)tail);
            if (!await FillAsync(_window.Over(reservation.Pointer + ValueRecord.PrefixBytes, (int)tail)).ConfigureAwait(false))
            {
                return false;
            }

            if (!await ExpectCrlfAsync().ConfigureAwait(false))
            {
                _out.Error("ERR Protocol error: bulk string not terminated by CRLF");
                return false;
            }

            committed = true;
            status = Commit(tenant, reservation, cmd.Parent);
        }
        finally
        {
            _window.Clear();
            if (!committed)
            {
                tenant.Dram.AbortWrite(reservation);
            }
        }

        await Stored(tenant, cmd.Kind, status, (int)tail, t0).ConfigureAwait(false);
        return true;
    }
}
