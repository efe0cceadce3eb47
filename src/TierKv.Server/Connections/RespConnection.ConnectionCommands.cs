using TierKv.Server.Hosting;

namespace TierKv.Server.Connections;

/// <summary>Connection commands: HELLO, AUTH, CLIENT.</summary>
internal sealed partial class RespConnection
{
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
                return Fail(Replies.NoProto);
            }

            i = 2;
        }

        while (i < argc)
        {
            var opt = Arg(src, _args[i]);
            if (Ascii.EqualsIgnoreCase(opt, "AUTH"u8) && i + 2 < argc)
            {
                // Without tenants, the default user takes any password, as Redis's "nopass" default user does.
                var t = _server.Tenants.AuthRequired ? _server.Tenants.Authenticate(Arg(src, _args[i + 1]), Arg(src, _args[i + 2]))
                    : Arg(src, _args[i + 1]).SequenceEqual("default"u8) ? _server.Tenants.Default : null;
                if (t is null)
                {
                    _server.Instruments.AuthFailure();
                    return Fail(_server.Tenants.AuthRequired ? Replies.WrongPass : Replies.HelloAuthNotConfigured);
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
                return Fail(Replies.HelloSyntax(opt));
            }
        }

        if (_tenant is null)
        {
            return Fail(Replies.HelloNoAuth);
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
            // Redis's default user without a password ("nopass") accepts AUTH default <anything>; AUTH <password> alone is an error.
            if (argc == 3 && user.SequenceEqual("default"u8))
            {
                _out.Ok();
                return True;
            }

            return Fail(Replies.AuthNotConfigured);
        }

        var t = _server.Tenants.Authenticate(user, token);
        if (t is null)
        {
            _server.Instruments.AuthFailure();
            return Fail(Replies.WrongPass);
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
                return Fail(Replies.BadClientName);
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
            return Fail(Replies.UnknownSubcommand(sub));
        }

        return True;
    }
}
