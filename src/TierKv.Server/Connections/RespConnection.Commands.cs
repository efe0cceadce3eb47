using TierKv.Server.Hosting;

namespace TierKv.Server.Connections;

/// <summary>Command execution: each command writes its reply into the reply buffer; GET and SET of large values move bytes in place.</summary>
internal sealed partial class RespConnection
{

    private static ReadOnlySpan<byte> Arg(ReadOnlySpan<byte> src, ArgRange a) => src.Slice(a.Offset, a.Length);

    /// <summary>Executes a fully buffered command; false closes the connection after the reply is flushed.</summary>
    private ValueTask<bool> ExecuteAsync(ReadOnlyMemory<byte> memory, int argc)
    {
        var src = memory.Span;
        var kind = CommandNames.Parse(Arg(src, _args[0]));
        _server.Instruments.Command(kind, _tenant);
        if (_tenant is null && !CommandNames.AllowedBeforeAuth(kind))
        {
            return Fail(Replies.NoAuth);
        }

        var tenant = _tenant;
        if (tenant is not null)
        {
            tenant.Stats.RecordCommand();
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
                    return Bulk(memory, _args[1]);
                }

                _out.Pong();

                return True;
            case CommandKind.Echo:
                if (argc != 2)
                {
                    return WrongArgs("echo");
                }

                return Bulk(memory, _args[1]);
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
                return Command(src, argc);
            case CommandKind.Select:
                if (argc == 2 && Arg(src, _args[1]).SequenceEqual("0"u8))
                {
                    _out.Ok();
                    return True;
                }

                return Fail(Replies.DbIndexOutOfRange);
            case CommandKind.Config:
                if (argc >= 2 && Ascii.EqualsIgnoreCase(Arg(src, _args[1]), "GET"u8))
                {
                    _out.MapHeader(0);
                    return True;
                }

                return Fail(Replies.ConfigUnsupported);
            case CommandKind.Cluster:
                return Cluster(src, argc);
            case CommandKind.ReadOnly:
            case CommandKind.ReadWrite:
            case CommandKind.Asking:
                _out.Ok();
                return True;
            case CommandKind.Info:
                _out.Verbatim(ServerReports.Info(_server, tenant!));
                return True;
            case CommandKind.KvStats:
                ServerReports.WriteStats(_out, _server, tenant!);
                return True;
            case CommandKind.DbSize:
                _out.Integer(tenant!.Values.Count());
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
            case CommandKind.KvPin:
                return Pin(src, argc);
            case CommandKind.KvUnpin:
                return Unpin(src, argc);
            case CommandKind.MGet:
                return MGet(src, argc);
            case CommandKind.Scan:
                return Scan(src, argc);
            case CommandKind.Keys:
                return KeysCommand(src, argc);
            case CommandKind.Ttl:
            case CommandKind.Pttl:
                return Ttl(kind, src, argc);
            default:
                return Fail(Replies.UnknownCommand(src, _args.AsSpan(0, argc)));
        }
    }

    private static ValueTask<bool> True => new(true);

    private ValueTask<bool> Fail(string message)
    {
        _tenant?.Stats.RecordError();

        _out.Error(message);
        return True;
    }

    /// <summary>A bulk reply of an argument of any size: copied into the reply buffer when it fits, else sent from where it lies.</summary>
    private ValueTask<bool> Bulk(ReadOnlyMemory<byte> src, ArgRange arg)
    {
        if (arg.Length + 32 <= _out.Free)
        {
            _out.Bulk(src.Span.Slice(arg.Offset, arg.Length));
            return True;
        }

        return SendBulkAsync(src.Slice(arg.Offset, arg.Length));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SendBulkAsync(ReadOnlyMemory<byte> value)
    {
        _out.BulkHeader(value.Length);
        await FlushAsync().ConfigureAwait(false);
        await SendAsync(value).ConfigureAwait(false);
        _out.Crlf();
        return true;
    }

    private ValueTask<bool> WrongArgs(string command) => Fail(Replies.WrongArgs(command));
}
