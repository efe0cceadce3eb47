using System.Buffers;

namespace TierKv.Server.Connections;

/// <summary>
/// Commands with one argument larger than <see cref="ServerOptions.LargeArgBytes"/>: a SET or KV.PUT value is received
/// straight into its DRAM record, whatever arguments follow it (<c>SET key value EX 60</c>); any other command is
/// materialized whole within <see cref="ServerOptions.MaxCommandBytes"/>.
/// </summary>
internal sealed partial class RespConnection
{
    /// <summary>Most bytes of the arguments that follow a streamed value (SET's options).</summary>
    private const int MaxTrailingBytes = 64 << 10;

    /// <summary>Where the arguments after a streamed value lie in their buffer.</summary>
    private ArgRange[]? _trailing;

    /// <summary>What a command with a streamed argument needs once the buffered part is released.</summary>
    private readonly record struct TailCommand(CommandKind Kind, ChunkKey Key, ChunkKey? Parent, string? Error, bool CloseAfterError, byte[]? Materialized, int NameLength, int Trailing, int Priority = -1);

    /// <summary>Reads what a command with a large argument needs from its buffered part (still valid here).</summary>
    private TailCommand PrepareTail(ReadOnlyMemory<byte> memory, int argc, int consumed, long tail, int tailIndex)
    {
        var src = memory.Span;
        int trailing = argc - tailIndex - 1;
        var kind = CommandNames.Parse(Arg(src, _args[0]));
        if (_tenant is null && !CommandNames.AllowedBeforeAuth(kind))
        {
            _server.Instruments.Command(kind, _tenant);
            return new TailCommand(kind, default, null, Replies.NoAuth, false, null, 0, trailing);
        }

        bool isValue = (kind == CommandKind.Set && tailIndex == 2) || (kind == CommandKind.KvPut && trailing == 0);
        if (isValue)
        {
            // Other commands are counted when their materialized copy executes.
            _server.Instruments.Command(kind, _tenant);
            _tenant?.Stats.RecordCommand();
            if (!ParsePut(kind, src, argc, out var key, out var parent, out int priority, out string? error))
            {
                return new TailCommand(kind, default, null, error, false, null, 0, trailing);
            }

            var name = Arg(src, _args[1]);
            name.CopyTo(_name);
            return new TailCommand(kind, key, parent, null, false, null, name.Length, trailing, priority);
        }

        if (trailing > 0)
        {
            _server.Instruments.Command(kind, _tenant);
            return new TailCommand(kind, default, null, Replies.LargeArgument(tailIndex, ServerOptions.LargeArgBytes), false, null, 0, trailing);
        }

        // Any other command with a large last argument (a long token list) is materialized whole, within the command bound.
        long total = consumed + tail + 2;
        if (total > _limits.MaxCommandBytes)
        {
            return new TailCommand(kind, default, null, Replies.CommandTooLarge(_limits.MaxCommandBytes), true, null, 0, 0);
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent((int)total);
        src[..consumed].CopyTo(copy);
        return new TailCommand(kind, default, null, null, false, copy, 0, 0);
    }

    /// <summary>Runs a command whose large argument is still arriving; false closes the connection.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ExecuteTailAsync(TailCommand cmd, int argc, int consumed, long tail)
    {
        if (cmd.Error is not null)
        {
            _tenant?.Stats.RecordError();
            _out.Error(cmd.Error);
            return !cmd.CloseAfterError && await DiscardAsync(tail + 2).ConfigureAwait(false) && await SkipTrailingAsync(cmd.Trailing).ConfigureAwait(false);
        }

        if (cmd.Materialized is { } copy)
        {
            return await ExecuteMaterializedAsync(copy, argc, consumed, tail).ConfigureAwait(false);
        }

        var tenant = _tenant!;
        int max = _server.Options.EffectiveSlotBytes;
        if (tail > max)
        {
            tenant.Stats.RecordPutRejection();
            _out.Error(Replies.ValueSize(max, tail));
            return await DiscardAsync(tail + 2).ConfigureAwait(false) && await SkipTrailingAsync(cmd.Trailing).ConfigureAwait(false);
        }

        long t0 = Stopwatch.GetTimestamp();
        bool overwrite = cmd.Kind == CommandKind.Set;
        tenant.Values.SetPriority(cmd.Key, cmd.Priority);
        var status = tenant.Values.Begin(cmd.Key, ValueRecord.Needed(cmd.NameLength, (int)tail), overwrite, out var write);
        if (status != TierWriteStatus.Stored)
        {
            // Already held (KV.PUT keeps the first copy: equal keys mean equal content) or no slot free.
            if (!await DiscardAsync(tail + 2).ConfigureAwait(false) || !await SkipTrailingAsync(cmd.Trailing).ConfigureAwait(false))
            {
                return false;
            }

            await Stored(tenant, cmd.Kind, status, (int)tail, t0).ConfigureAwait(false);
            return true;
        }

        bool keep = false;
        try
        {
            int offset = ValueRecord.ValueOffset(cmd.NameLength);
            if (!await FillAsync(_window.Over(write.Reservation.Pointer + offset, (int)tail)).ConfigureAwait(false))
            {
                return false; // cut off: the reservation is given back and the old value stays
            }

            if (!await ExpectCrlfAsync().ConfigureAwait(false))
            {
                _out.Error(Replies.BulkNotTerminated);
                return false;
            }

            var options = default(SetOptions);
            if (cmd.Trailing > 0)
            {
                var (buffer, error) = await ReadTrailingAsync(cmd.Trailing).ConfigureAwait(false);
                if (buffer is null)
                {
                    _out.Error(error ?? Replies.ProtocolError);
                    return false;
                }

                try
                {
                    error = SetOptions.Parse(buffer, _trailing.AsSpan(0, cmd.Trailing), TenantStore.NowMs, out options);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }

                if (error is not null)
                {
                    tenant.Stats.RecordError();
                    _out.Error(error);
                    return true;
                }
            }

            if (!ConditionHolds(tenant, cmd.Key, options, out long expires))
            {
                _out.Null();
                return true;
            }

            ValueRecord.WriteHeader(write.Reservation.Span, _name.AsSpan(0, cmd.NameLength), (int)tail, expires);
            keep = true;
            status = await tenant.Values.CommitAsync(write, cmd.Parent, overwrite, expires, options.Condition).ConfigureAwait(false);
        }
        finally
        {
            _window.Clear();
            if (!keep)
            {
                tenant.Values.Abort(write);
            }
        }

        await Stored(tenant, cmd.Kind, status, (int)tail, t0).ConfigureAwait(false);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ExecuteMaterializedAsync(byte[] copy, int argc, int consumed, long tail)
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

    /// <summary>
    /// Reads the <paramref name="count"/> small arguments that follow a streamed value into a rented buffer (the caller
    /// returns it), located by <see cref="_trailing"/>; null and an error when they break the protocol or the bound.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(byte[]? Buffer, string? Error)> ReadTrailingAsync(int count)
    {
        _trailing ??= new ArgRange[_limits.MaxArrayLength];
        while (true)
        {
            var rr = await _reader.ReadAsync().ConfigureAwait(false);
            var buffer = rr.Buffer;
            int n = (int)Math.Min(buffer.Length, MaxTrailingBytes);
            byte[] copy = ArrayPool<byte>.Shared.Rent(Math.Max(n, 1));
            buffer.Slice(0, n).CopyTo(copy);
            var st = RespParser.TryParseBulks(copy.AsSpan(0, n), count, _limits, _trailing, out int used, out string? error);
            if (st == ParseStatus.Complete)
            {
                _reader.AdvanceTo(buffer.GetPosition(used));
                return (copy, null);
            }

            ArrayPool<byte>.Shared.Return(copy);
            if (st == ParseStatus.Error || buffer.Length >= MaxTrailingBytes || rr.IsCompleted)
            {
                _reader.AdvanceTo(buffer.End);
                return (null, error ?? (rr.IsCompleted ? null : Replies.CommandTooLarge(MaxTrailingBytes)));
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads and drops the arguments after a streamed value that was refused.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SkipTrailingAsync(int count)
    {
        if (count == 0)
        {
            return true;
        }

        var (buffer, _) = await ReadTrailingAsync(count).ConfigureAwait(false);
        if (buffer is null)
        {
            return false;
        }

        ArrayPool<byte>.Shared.Return(buffer);
        return true;
    }
}
