using System.Buffers.Text;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using TierKv.Keys;

namespace TierKv.Server.Client;

/// <summary>
/// A synchronous client for <c>tierkv serve</c> (and, for the plain commands, any Redis server): one connection,
/// not thread-safe (use one per thread). Values move between the caller's spans and the socket without intermediate
/// copies; lookups and puts allocate nothing. Server errors throw <see cref="TierKvServerException"/>. For asynchronous
/// I/O with cancellation, and for sharing one connection between concurrent callers, use <see cref="TierKvAsyncClient"/>.
/// </summary>
public sealed class TierKvClient : IDisposable
{
    private const int BufferBytes = 64 << 10;
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly byte[] _send = new byte[BufferBytes];
    private readonly byte[] _recv = new byte[BufferBytes];
    private int _sendLen;
    private int _rpos;
    private int _rlen;

    private TierKvClient(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
    }

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/>; with <paramref name="tlsTargetHost"/>, over TLS (accepting any certificate when <paramref name="allowUntrusted"/>).</summary>
    public static TierKvClient Connect(string host, int port, string? tlsTargetHost = null, bool allowUntrusted = false)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Connect(host, port);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (tlsTargetHost is not null)
            {
                var ssl = new SslStream(stream, false, allowUntrusted ? (_, _, _, _) => true : null);
                ssl.AuthenticateAsClient(tlsTargetHost);
                stream = ssl;
            }

            return new TierKvClient(socket, stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>PING; throws unless the server answers.</summary>
    public void Ping()
    {
        Begin(1);
        Arg("PING"u8);
        Flush();
        ExpectSimple();
    }

    /// <summary>AUTH [user] token.</summary>
    public void Auth(string token, string? user = null)
    {
        Begin(user is null ? 2 : 3);
        Arg("AUTH"u8);
        if (user is not null)
        {
            Arg(Encoding.UTF8.GetBytes(user));
        }

        Arg(Encoding.UTF8.GetBytes(token));
        Flush();
        ExpectSimple();
    }

    /// <summary>Plain <c>SET name value</c>.</summary>
    public void Set(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Begin(3);
        Arg("SET"u8);
        Arg(name);
        Value(value);
        ExpectSimple();
    }

    /// <summary>Plain <c>GET name</c> into <paramref name="destination"/>; returns the value's length, or -1 when absent.</summary>
    public int Get(ReadOnlySpan<byte> name, Span<byte> destination)
    {
        Begin(2);
        Arg("GET"u8);
        Arg(name);
        Flush();
        return ReadBulkInto(destination);
    }

    /// <summary><c>KV.PUT</c>: stores a chunk; true when stored now, false when it was already held.</summary>
    public bool Put(in ChunkKey key, ReadOnlySpan<byte> value, ChunkKey? parent = null)
    {
        Span<byte> k = stackalloc byte[32];
        Span<byte> p = stackalloc byte[32];
        Begin(parent is null ? 3 : 5);
        Arg("KV.PUT"u8);
        Arg(Hex(key, k));
        if (parent is { } pk)
        {
            Arg("PARENT"u8);
            Arg(Hex(pk, p));
        }

        Value(value);
        return ReadInteger() == 1;
    }

    /// <summary><c>KV.GET</c> into <paramref name="destination"/>; returns the length, or -1 when absent.</summary>
    public int GetChunk(in ChunkKey key, Span<byte> destination)
    {
        Span<byte> k = stackalloc byte[32];
        Begin(2);
        Arg("KV.GET"u8);
        Arg(Hex(key, k));
        Flush();
        return ReadBulkInto(destination);
    }

    /// <summary><c>KV.LOOKUP KEYS</c>: the number of leading chunks of <paramref name="keys"/> the server holds.</summary>
    public int Lookup(ReadOnlySpan<ChunkKey> keys)
    {
        Span<byte> k = stackalloc byte[32];
        Begin(keys.Length + 2);
        Arg("KV.LOOKUP"u8);
        Arg("KEYS"u8);
        foreach (var key in keys)
        {
            Arg(Hex(key, k));
        }

        Flush();
        return (int)ReadInteger();
    }

    /// <summary><c>KV.LOOKUP TOKENS</c>: the number of leading tokens whose chunks the server holds.</summary>
    public int LookupTokens(ReadOnlySpan<int> tokens)
    {
        Begin(3);
        Arg("KV.LOOKUP"u8);
        Arg("TOKENS"u8);
        Value(MemoryMarshal.AsBytes(tokens));
        return (int)ReadInteger();
    }

    /// <summary><c>KV.EXISTS</c>: one flag per key.</summary>
    public void Exists(ReadOnlySpan<ChunkKey> keys, Span<bool> present)
    {
        Span<byte> k = stackalloc byte[32];
        Begin(keys.Length + 1);
        Arg("KV.EXISTS"u8);
        foreach (var key in keys)
        {
            Arg(Hex(key, k));
        }

        Flush();
        long n = ReadLength((byte)'*');
        for (int i = 0; i < n; i++)
        {
            present[i] = ReadInteger() == 1;
        }
    }

    /// <summary><c>KV.DEL</c>: deletes chunks; returns how many were held.</summary>
    public int Delete(ReadOnlySpan<ChunkKey> keys)
    {
        Span<byte> k = stackalloc byte[32];
        Begin(keys.Length + 1);
        Arg("KV.DEL"u8);
        foreach (var key in keys)
        {
            Arg(Hex(key, k));
        }

        Flush();
        return (int)ReadInteger();
    }

    /// <summary><c>KV.STATS</c> as name/value text pairs.</summary>
    public IReadOnlyDictionary<string, string> Stats()
    {
        var reply = Execute("KV.STATS") as object?[] ?? [];
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < reply.Length; i += 2)
        {
            d[reply[i]?.ToString() ?? ""] = Convert.ToString(reply[i + 1], System.Globalization.CultureInfo.InvariantCulture) ?? "";
        }

        return d;
    }

    /// <summary>
    /// Sends any command and returns the reply: a string (simple, bulk, verbatim), a long (integer), an
    /// <c>object?[]</c> (array; a RESP3 map is flattened into key, value, ...), or null.
    /// </summary>
    public object? Execute(params string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Begin(args.Length);
        foreach (var a in args)
        {
            Arg(Encoding.UTF8.GetBytes(a));
        }

        Flush();
        return ReadValue();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
    }

    private static ReadOnlySpan<byte> Hex(in ChunkKey key, Span<byte> buffer)
    {
        key.Value.TryFormat(buffer, out _, "x32", System.Globalization.CultureInfo.InvariantCulture);
        return buffer;
    }

    private void Begin(int count)
    {
        _sendLen = 0;
        Header((byte)'*', count);
    }

    private void Header(byte prefix, long n)
    {
        EnsureSend(24);
        _send[_sendLen++] = prefix;
        Utf8Formatter.TryFormat(n, _send.AsSpan(_sendLen), out int w);
        _sendLen += w;
        _send[_sendLen++] = (byte)'\r';
        _send[_sendLen++] = (byte)'\n';
    }

    private void Arg(ReadOnlySpan<byte> bytes)
    {
        Header((byte)'$', bytes.Length);
        EnsureSend(bytes.Length + 2);
        bytes.CopyTo(_send.AsSpan(_sendLen));
        _sendLen += bytes.Length;
        _send[_sendLen++] = (byte)'\r';
        _send[_sendLen++] = (byte)'\n';
    }

    /// <summary>The last argument: small ones join the buffer, large ones go to the socket straight from the caller's span.</summary>
    private void Value(ReadOnlySpan<byte> value)
    {
        if (value.Length + 40 <= BufferBytes - _sendLen)
        {
            Arg(value);
            Flush();
            return;
        }

        Header((byte)'$', value.Length);
        Flush();
        _stream.Write(value);
        _send[0] = (byte)'\r';
        _send[1] = (byte)'\n';
        _sendLen = 2;
        Flush();
    }

    private void EnsureSend(int bytes)
    {
        if (_sendLen + bytes > BufferBytes)
        {
            Flush();
            if (bytes > BufferBytes)
            {
                throw new ArgumentException($"An argument of {bytes} bytes is too large for a key; only the value may be large.");
            }
        }
    }

    private void Flush()
    {
        if (_sendLen > 0)
        {
            _stream.Write(_send, 0, _sendLen);
            _sendLen = 0;
        }
    }

    private void Fill()
    {
        if (_rpos == _rlen)
        {
            _rpos = 0;
            _rlen = 0;
        }
        else if (_rpos > 0)
        {
            Buffer.BlockCopy(_recv, _rpos, _recv, 0, _rlen - _rpos);
            _rlen -= _rpos;
            _rpos = 0;
        }

        int n = _stream.Read(_recv, _rlen, _recv.Length - _rlen);
        if (n == 0)
        {
            throw new IOException("The server closed the connection.");
        }

        _rlen += n;
    }

    /// <summary>Reads one line (without CRLF) starting at the current position; returns its bounds in the receive buffer.</summary>
    private (int Start, int Length) ReadLine()
    {
        while (true)
        {
            int nl = _recv.AsSpan(_rpos, _rlen - _rpos).IndexOf((byte)'\n');
            if (nl >= 1)
            {
                int start = _rpos;
                _rpos += nl + 1;
                return (start, nl - 1);
            }

            if (_rlen - _rpos >= _recv.Length)
            {
                throw new IOException("A reply line is longer than the client's buffer.");
            }

            Fill();
        }
    }

    private long ReadLength(byte expected)
    {
        var (s, l) = ReadLine();
        byte kind = _recv[s];
        if (kind == (byte)'-')
        {
            throw new TierKvServerException(Encoding.UTF8.GetString(_recv, s + 1, l - 1));
        }

        if (kind == (byte)'_' && expected == (byte)'$')
        {
            return -1;
        }

        if (kind != expected && !(expected == (byte)'*' && kind == (byte)'%'))
        {
            throw new IOException($"Expected a '{(char)expected}' reply, got '{Encoding.ASCII.GetString(_recv, s, Math.Min(l, 64))}'.");
        }

        Utf8Parser.TryParse(_recv.AsSpan(s + 1, l - 1), out long n, out _);
        return kind == (byte)'%' ? 2 * n : n;
    }

    private long ReadInteger() => ReadLength((byte)':');

    private void ExpectSimple()
    {
        var (s, l) = ReadLine();
        if (_recv[s] == (byte)'-')
        {
            throw new TierKvServerException(Encoding.UTF8.GetString(_recv, s + 1, l - 1));
        }
    }

    private int ReadBulkInto(Span<byte> destination)
    {
        long len = ReadLength((byte)'$');
        if (len < 0)
        {
            return -1;
        }

        if (len > destination.Length)
        {
            throw new ArgumentException($"The value has {len} bytes but the destination holds {destination.Length}.", nameof(destination));
        }

        int have = Math.Min(_rlen - _rpos, (int)len);
        _recv.AsSpan(_rpos, have).CopyTo(destination);
        _rpos += have;
        while (have < len)
        {
            int n = _stream.Read(destination[have..(int)len]);
            if (n == 0)
            {
                throw new IOException("The server closed the connection in the middle of a value.");
            }

            have += n;
        }

        ReadLine();
        return (int)len;
    }

    private object? ReadValue()
    {
        var (s, l) = ReadLine();
        byte kind = _recv[s];
        var body = _recv.AsSpan(s + 1, l - 1);
        switch (kind)
        {
            case (byte)'+':
                return Encoding.UTF8.GetString(body);
            case (byte)'-':
                throw new TierKvServerException(Encoding.UTF8.GetString(body));
            case (byte)':':
                Utf8Parser.TryParse(body, out long i, out _);
                return i;
            case (byte)'_':
                return null;
            case (byte)'$':
            case (byte)'=':
                Utf8Parser.TryParse(body, out long len, out _);
                if (len < 0)
                {
                    return null;
                }

                var buf = new byte[len];
                ReadBulkRest(buf);
                var text = Encoding.UTF8.GetString(buf);
                return kind == (byte)'=' && text.Length >= 4 ? text[4..] : text;
            case (byte)'*':
            case (byte)'%':
                Utf8Parser.TryParse(body, out long n, out _);
                if (n < 0)
                {
                    return null;
                }

                long count = kind == (byte)'%' ? 2 * n : n;
                var items = new object?[count];
                for (long k = 0; k < count; k++)
                {
                    items[k] = ReadValue();
                }

                return items;
            default:
                return Encoding.UTF8.GetString(_recv, s, l);
        }
    }

    private void ReadBulkRest(Span<byte> destination)
    {
        int have = Math.Min(_rlen - _rpos, destination.Length);
        _recv.AsSpan(_rpos, have).CopyTo(destination);
        _rpos += have;
        while (have < destination.Length)
        {
            int n = _stream.Read(destination[have..]);
            if (n == 0)
            {
                throw new IOException("The server closed the connection in the middle of a value.");
            }

            have += n;
        }

        ReadLine();
    }
}
