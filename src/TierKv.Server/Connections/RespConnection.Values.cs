using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using TierKv.Keys;
using TierKv.Server.Protocol;
using TierKv.Server.Tenants;
using TierKv.Tiers;

namespace TierKv.Server.Connections;

/// <summary>
/// Value commands: GET, SET, KV.PUT, EXISTS, DEL. They reach the tiers only through the tenant's
/// <see cref="TenantStore"/>; large values move between the socket and DRAM records in place.
/// </summary>
internal sealed partial class RespConnection
{
    private ChunkKey[]? _keys;
    private bool[]? _present;

    private ValueTask<bool> Get(ReadOnlySpan<byte> name)
    {
        var tenant = _tenant!;
        if (!KeyNames.TryMap(name, out var clientKey))
        {
            return Fail(Replies.BadKeyName);
        }

        var key = tenant.Scope(clientKey);
        long t0 = Stopwatch.GetTimestamp();
        if (!tenant.Values.TryGetInDram(key, out var lease, out int length))
        {
            if (tenant.Values.HasLowerTiers)
            {
                return GetBelowAsync(key, t0);
            }

            tenant.Stats.RecordGetMiss();
            _out.Null();
            return True;
        }

        tenant.Stats.RecordGetHit(length);
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

            RecordDramGet(tenant, length, t0);
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
            await SendAsync(_window.Over(lease.Pointer + ValueRecord.PrefixBytes, length)).ConfigureAwait(false);
        }
        finally
        {
            _window.Clear();
            lease.Dispose();
        }

        _out.Crlf();
        RecordDramGet(_tenant!, length, t0);
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
            int len = await tenant.Values.ReadBelowAsync(key, _window.Over(buf, pool.RecordBytes)).ConfigureAwait(false);
            if (len < 0)
            {
                tenant.Stats.RecordGetMiss();
                _out.Null();
                return true;
            }

            tenant.Stats.RecordGetHit(len);
            _out.BulkHeader(len);
            await FlushAsync().ConfigureAwait(false);
            await SendAsync(_window.Over(buf + ValueRecord.PrefixBytes, len)).ConfigureAwait(false);
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
            tenant.Stats.RecordPutRejection();
            return Fail(Replies.ValueSize(max, value.Length));
        }

        long t0 = Stopwatch.GetTimestamp();
        bool overwrite = kind == CommandKind.Set;
        var status = tenant.Values.Begin(key, overwrite, out var reservation);
        if (status != TierWriteStatus.Stored)
        {
            return Stored(tenant, kind, status, value.Length, t0);
        }

        var span = reservation.Span;
        ValueRecord.WritePrefix(span, value.Length);
        value.CopyTo(span[ValueRecord.PrefixBytes..]);
        var commit = tenant.Values.CommitAsync(reservation, parent, overwrite);
        return commit.IsCompletedSuccessfully ? Stored(tenant, kind, commit.Result, value.Length, t0) : CommittedAsync(commit, kind, value.Length, t0);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> CommittedAsync(ValueTask<TierWriteStatus> commit, CommandKind kind, int length, long t0)
    {
        var status = await commit.ConfigureAwait(false);
        return await Stored(_tenant!, kind, status, length, t0).ConfigureAwait(false);
    }

    private ValueTask<bool> Stored(Tenant tenant, CommandKind kind, TierWriteStatus status, int length, long t0)
    {
        switch (status)
        {
            case TierWriteStatus.Stored:
                long ns = (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
                tenant.Stats.RecordPut(length, ns);
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
                // KV.PUT keeps the first copy (equal keys mean equal content); a SET that lost to a concurrent newer SET
                // is acknowledged as ordered before it.
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
                tenant.Stats.RecordPutRejection();
                return Fail(Replies.AllSlotsBusy);
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
            error = kind == CommandKind.Set ? Replies.SetArity : Replies.KvPutArity;
            return false;
        }

        var tenant = _tenant!;
        if (!KeyNames.TryMap(Arg(src, _args[1]), out var k))
        {
            error = Replies.BadKeyName;
            return false;
        }

        key = tenant.Scope(k);
        if (argc == 5)
        {
            if (!Ascii.EqualsIgnoreCase(Arg(src, _args[2]), "PARENT"u8) || !KeyNames.TryMap(Arg(src, _args[3]), out var p))
            {
                error = Replies.KvPutSyntax;
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
        int n = argc - 1;
        var keys = _keys ??= new ChunkKey[_limits.MaxArrayLength];
        var present = _present ??= new bool[_limits.MaxArrayLength];
        bool missing = false;
        for (int i = 0; i < n; i++)
        {
            keys[i] = KeyNames.TryMap(Arg(src, _args[i + 1]), out var k) ? tenant.Scope(k) : default;
            present[i] = keys[i] != default && tenant.Values.Exists(keys[i]);
            missing |= !present[i];
        }

        if (missing && tenant.Values.HasRemote)
        {
            return ExistsBelowAsync(kind, tenant, n);
        }

        ReplyExists(kind, n);
        return True;
    }

    /// <summary>Asks the remote cluster about the keys this node lacks (a dead cluster answers "absent").</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ExistsBelowAsync(CommandKind kind, Tenant tenant, int n)
    {
        await tenant.Values.ExistsRemoteAsync(_keys.AsMemory(0, n), _present.AsMemory(0, n)).ConfigureAwait(false);
        ReplyExists(kind, n);
        return true;
    }

    private void ReplyExists(CommandKind kind, int n)
    {
        var present = _present!;
        if (kind == CommandKind.KvExists)
        {
            _out.ArrayHeader(n);
            for (int i = 0; i < n; i++)
            {
                _out.Integer(present[i] ? 1 : 0);
            }

            return;
        }

        int count = 0;
        for (int i = 0; i < n; i++)
        {
            count += present[i] ? 1 : 0;
        }

        _out.Integer(count);
    }

    private ValueTask<bool> Delete(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("del");
        }

        var tenant = _tenant!;
        var keys = _keys ??= new ChunkKey[_limits.MaxArrayLength];
        int n = 0;
        for (int i = 1; i < argc; i++)
        {
            if (KeyNames.TryMap(Arg(src, _args[i]), out var k))
            {
                keys[n++] = tenant.Scope(k);
            }
        }

        return DeleteAsync(tenant, n);
    }

    /// <summary>Deletes from every tier; the reply comes once no copy is left on disk, so a crash after it keeps the delete.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DeleteAsync(Tenant tenant, int count)
    {
        int removed = 0;
        for (int i = 0; i < count; i++)
        {
            if (await tenant.Values.DeleteAsync(_keys![i]).ConfigureAwait(false))
            {
                removed++;
            }
        }

        _out.Integer(removed);
        return true;
    }

    /// <summary>What a command with a streamed last argument needs once the buffered part is released.</summary>
    private readonly record struct TailCommand(CommandKind Kind, ChunkKey Key, ChunkKey? Parent, string? Error, bool CloseAfterError, byte[]? Materialized);

    /// <summary>Reads what a command with a large last argument needs from its buffered part (still valid here).</summary>
    private TailCommand PrepareTail(ReadOnlyMemory<byte> memory, int argc, int consumed, long tail)
    {
        var src = memory.Span;
        var kind = CommandNames.Parse(Arg(src, _args[0]));
        if (_tenant is null && !CommandNames.AllowedBeforeAuth(kind))
        {
            _server.Instruments.Command(kind, _tenant);
            return new TailCommand(kind, default, null, Replies.NoAuth, false, null);
        }

        if (kind is CommandKind.Set or CommandKind.KvPut)
        {
            // Other commands are counted when their materialized copy executes.
            _server.Instruments.Command(kind, _tenant);
            _tenant?.Stats.RecordCommand();
            return ParsePut(kind, src, argc, out var key, out var parent, out string? error)
                ? new TailCommand(kind, key, parent, null, false, null)
                : new TailCommand(kind, default, null, error, false, null);
        }

        // Any other command with a large argument (a long token list) is materialized whole, within the command bound.
        long total = consumed + tail + 2;
        if (total > _limits.MaxCommandBytes)
        {
            return new TailCommand(kind, default, null, Replies.CommandTooLarge(_limits.MaxCommandBytes), true, null);
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent((int)total);
        src[..consumed].CopyTo(copy);
        return new TailCommand(kind, default, null, null, false, copy);
    }

    /// <summary>Runs a command whose last argument is still arriving; false closes the connection.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ExecuteTailAsync(TailCommand cmd, int argc, int consumed, long tail)
    {
        if (cmd.Error is not null)
        {
            _tenant?.Stats.RecordError();
            _out.Error(cmd.Error);
            return !cmd.CloseAfterError && await DiscardAsync(tail + 2).ConfigureAwait(false);
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
                    _out.Error(Replies.BulkNotTerminated);
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
            tenant.Stats.RecordPutRejection();
            _out.Error(Replies.ValueSize(max, tail));
            return await DiscardAsync(tail + 2).ConfigureAwait(false);
        }

        long t0 = Stopwatch.GetTimestamp();
        bool overwrite = cmd.Kind == CommandKind.Set;
        var status = tenant.Values.Begin(cmd.Key, overwrite, out var reservation);
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

        bool filled = false;
        try
        {
            ValueRecord.WritePrefix(reservation.Span, (int)tail);
            if (!await FillAsync(_window.Over(reservation.Pointer + ValueRecord.PrefixBytes, (int)tail)).ConfigureAwait(false))
            {
                return false; // cut off: the reservation is given back and the old value stays
            }

            if (!await ExpectCrlfAsync().ConfigureAwait(false))
            {
                _out.Error(Replies.BulkNotTerminated);
                return false;
            }

            filled = true;
        }
        finally
        {
            _window.Clear();
            if (!filled)
            {
                tenant.Values.Abort(reservation);
            }
        }

        status = await tenant.Values.CommitAsync(reservation, cmd.Parent, overwrite).ConfigureAwait(false);
        await Stored(tenant, cmd.Kind, status, (int)tail, t0).ConfigureAwait(false);
        return true;
    }
}
