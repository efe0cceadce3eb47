using System.Buffers.Text;

namespace TierKv.Server.Connections;

/// <summary>
/// Writes: SET (with its options) and KV.PUT. A value that arrived with the command is copied into a DRAM record; a
/// large one is received from the socket straight into the record (see <see cref="ExecuteTailAsync"/>).
/// </summary>
internal sealed partial class RespConnection
{
    /// <summary>The name of the key a streamed SET writes (the command's buffered part is gone by then).</summary>
    private readonly byte[] _name = new byte[KeyNames.MaxNameBytes];

    /// <summary>SET or KV.PUT whose value arrived with the command (small values).</summary>
    private ValueTask<bool> PutBuffered(CommandKind kind, ReadOnlySpan<byte> src, int argc)
    {
        if (!ParsePut(kind, src, argc, out var key, out var parent, out int priority, out string? error))
        {
            return Fail(error!);
        }

        var options = default(SetOptions);
        if (kind == CommandKind.Set && argc > 3)
        {
            error = SetOptions.Parse(src, _args.AsSpan(3, argc - 3), TenantStore.NowMs, out options);
            if (error is not null)
            {
                return Fail(error);
            }
        }

        var tenant = _tenant!;
        var value = Arg(src, _args[kind == CommandKind.Set ? 2 : argc - 1]);
        var name = Arg(src, _args[1]);
        int max = _server.Options.EffectiveSlotBytes;
        if (value.IsEmpty || value.Length > max)
        {
            tenant.Stats.RecordPutRejection();
            return Fail(Replies.ValueSize(max, value.Length));
        }

        long t0 = Stopwatch.GetTimestamp();
        if (!ConditionHolds(tenant, key, options, out long expires))
        {
            _out.Null();
            return True;
        }

        bool overwrite = kind == CommandKind.Set;
        tenant.Values.SetPriority(key, priority);
        var status = tenant.Values.Begin(key, ValueRecord.Needed(name.Length, value.Length), overwrite, out var write);
        if (status != TierWriteStatus.Stored)
        {
            return Stored(tenant, kind, status, value.Length, t0);
        }

        var span = write.Reservation.Span;
        int offset = ValueRecord.WriteHeader(span, name, value.Length, expires);
        value.CopyTo(span[offset..]);
        var commit = tenant.Values.CommitAsync(write, parent, overwrite, expires, options.Condition);
        return commit.IsCompletedSuccessfully ? Stored(tenant, kind, commit.Result, value.Length, t0) : CommittedAsync(commit, kind, value.Length, t0);
    }

    /// <summary>
    /// NX / XX against the key's presence now, and the expiry the value gets (KEEPTTL keeps the current one). A quick
    /// answer before a record is reserved; the commit asks again under the key's lock, which is what makes them atomic.
    /// </summary>
    private static bool ConditionHolds(Tenant tenant, in ChunkKey key, in SetOptions options, out long expires)
    {
        expires = options.ExpiresAtMs;
        if (!options.Nx && !options.Xx && !options.KeepTtl)
        {
            return true;
        }

        long current = tenant.Values.ExpiryOf(key);
        if ((options.Nx && current >= 0) || (options.Xx && current < 0))
        {
            return false;
        }

        if (options.KeepTtl)
        {
            expires = Math.Max(0, current);
        }

        return true;
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
                return Acknowledged(kind, stored: true);
            case TierWriteStatus.AlreadyPresent:
                // KV.PUT keeps the first copy (equal keys mean equal content); a SET that lost to a concurrent newer SET
                // is acknowledged as ordered before it.
                return Acknowledged(kind, stored: false);
            case TierWriteStatus.ConditionNotMet:
                // SET NX found the key (or XX did not) when the value was about to be published.
                _out.Null();
                return True;
            default:
                tenant.Stats.RecordPutRejection();
                return Fail(Replies.AllSlotsBusy);
        }
    }

    /// <summary>A write's reply: SET answers OK either way; KV.PUT answers 1 when it stored the value, 0 when a copy was held.</summary>
    private ValueTask<bool> Acknowledged(CommandKind kind, bool stored)
    {
        if (kind == CommandKind.Set)
        {
            _out.Ok();
        }
        else
        {
            _out.Integer(stored ? 1 : 0);
        }

        return True;
    }

    /// <summary>
    /// Parses the key of <c>SET key value [options]</c> or <c>KV.PUT key [PARENT parent] [PRIORITY p] value</c>, and
    /// KV.PUT's options (<paramref name="priority"/> -1 when not given: the key keeps the priority it has).
    /// </summary>
    private bool ParsePut(CommandKind kind, ReadOnlySpan<byte> src, int argc, out ChunkKey key, out ChunkKey? parent, out int priority, out string? error)
    {
        key = default;
        parent = null;
        priority = -1;
        error = null;
        bool ok = kind == CommandKind.Set ? argc >= 3 : argc is 3 or 5 or 7;
        if (!ok)
        {
            error = kind == CommandKind.Set ? Replies.WrongArgs("set") : Replies.KvPutArity;
            return false;
        }

        var tenant = _tenant!;
        if (!KeyNames.TryMap(Arg(src, _args[1]), out var k))
        {
            error = Replies.BadKeyName;
            return false;
        }

        key = tenant.Scope(k);
        for (int i = 2; kind == CommandKind.KvPut && i < argc - 1; i += 2)
        {
            var option = Arg(src, _args[i]);
            var value = Arg(src, _args[i + 1]);
            if (Ascii.EqualsIgnoreCase(option, "PARENT"u8) && parent is null && KeyNames.TryMap(value, out var p))
            {
                parent = tenant.Scope(p);
            }
            else if (Ascii.EqualsIgnoreCase(option, "PRIORITY"u8) && priority < 0 && Utf8Parser.TryParse(value, out byte level, out int used) && used == value.Length)
            {
                priority = level;
            }
            else
            {
                error = Replies.KvPutSyntax;
                return false;
            }
        }

        return true;
    }
}
