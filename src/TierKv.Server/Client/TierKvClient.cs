using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TierKv.Server.Client;

/// <summary>
/// A synchronous client for <c>tierkv serve</c> (and, for the plain commands, any Redis server): one connection,
/// not thread-safe (use one per thread). Values move between the caller's spans and the socket without intermediate
/// copies; lookups and puts allocate nothing. Server errors throw <see cref="TierKvServerException"/>. For asynchronous
/// I/O with cancellation, and for sharing one connection between concurrent callers, use <see cref="TierKvAsyncClient"/>.
/// </summary>
public sealed class TierKvClient : IDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly RespRequestWriter _writer;
    private readonly RespReplyReader _reader;

    private TierKvClient(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
        _writer = new RespRequestWriter(stream);
        _reader = new RespReplyReader(stream);
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
        TierKvCommands.Ping(_writer);
        _writer.Flush();
        _reader.ReadSimple();
    }

    /// <summary>AUTH [user] token.</summary>
    public void Auth(string token, string? user = null)
    {
        TierKvCommands.Auth(_writer, token, user);
        _writer.Flush();
        _reader.ReadSimple();
    }

    /// <summary>Plain <c>SET name value</c>.</summary>
    public void Set(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        TierKvCommands.Set(_writer, name);
        _writer.SendLast(value);
        _reader.ReadSimple();
    }

    /// <summary>Plain <c>GET name</c> into <paramref name="destination"/>; returns the value's length, or -1 when absent.</summary>
    public int Get(ReadOnlySpan<byte> name, Span<byte> destination)
    {
        TierKvCommands.Get(_writer, name);
        _writer.Flush();
        return _reader.ReadBulkInto(destination);
    }

    /// <summary><c>KV.PUT</c>: stores a chunk; true when stored now, false when it was already held.</summary>
    public bool Put(in ChunkKey key, ReadOnlySpan<byte> value, ChunkKey? parent = null)
    {
        TierKvCommands.Put(_writer, key, parent);
        _writer.SendLast(value);
        return _reader.ReadFlag(last: true);
    }

    /// <summary><c>KV.GET</c> into <paramref name="destination"/>; returns the length, or -1 when absent.</summary>
    public int GetChunk(in ChunkKey key, Span<byte> destination)
    {
        TierKvCommands.GetChunk(_writer, key);
        _writer.Flush();
        return _reader.ReadBulkInto(destination);
    }

    /// <summary><c>KV.LOOKUP KEYS</c>: the number of leading chunks of <paramref name="keys"/> the server holds.</summary>
    public int Lookup(ReadOnlySpan<ChunkKey> keys)
    {
        TierKvCommands.Lookup(_writer, keys);
        _writer.Flush();
        return (int)_reader.ReadInteger();
    }

    /// <summary><c>KV.LOOKUP TOKENS</c>: the number of leading tokens whose chunks the server holds.</summary>
    public int LookupTokens(ReadOnlySpan<int> tokens)
    {
        TierKvCommands.LookupTokens(_writer);
        _writer.SendLast(MemoryMarshal.AsBytes(tokens));
        return (int)_reader.ReadInteger();
    }

    /// <summary><c>KV.EXISTS</c>: one flag per key.</summary>
    public void Exists(ReadOnlySpan<ChunkKey> keys, Span<bool> present)
    {
        TierKvCommands.Exists(_writer, keys);
        _writer.Flush();
        for (int i = 0, n = _reader.ReadFlagCount(keys.Length); i < n; i++)
        {
            present[i] = _reader.ReadFlag(last: i + 1 == n);
        }
    }

    /// <summary><c>KV.DEL</c>: deletes chunks; returns how many were held.</summary>
    public int Delete(ReadOnlySpan<ChunkKey> keys)
    {
        TierKvCommands.Delete(_writer, keys);
        _writer.Flush();
        return (int)_reader.ReadInteger();
    }

    /// <summary>
    /// <c>KV.PIN</c>: pins the held chunks among <paramref name="keys"/> (for <paramref name="ttl"/>, whole seconds);
    /// returns how many are pinned. Past the tenant's limit the server answers <c>PINLIMIT</c> (a <see cref="TierKvServerException"/>).
    /// </summary>
    public int Pin(ReadOnlySpan<ChunkKey> keys, TimeSpan? ttl = null)
    {
        TierKvCommands.Pin(_writer, keys, ttl, unpin: false);
        _writer.Flush();
        return (int)_reader.ReadInteger();
    }

    /// <summary><c>KV.UNPIN</c>: returns how many of <paramref name="keys"/> were pinned.</summary>
    public int Unpin(ReadOnlySpan<ChunkKey> keys)
    {
        TierKvCommands.Pin(_writer, keys, null, unpin: true);
        _writer.Flush();
        return (int)_reader.ReadInteger();
    }

    /// <summary><c>KV.STATS</c> as name/value text pairs.</summary>
    public IReadOnlyDictionary<string, string> Stats() => TierKvCommands.StatsFrom(Execute("KV.STATS"));

    /// <summary>
    /// Sends any command and returns the reply: a string (simple, bulk, verbatim), a long (integer), an
    /// <c>object?[]</c> (array; a RESP3 map is flattened into key, value, ...), or null. An error reply throws
    /// <see cref="TierKvServerException"/>; an error inside an array is returned as a <see cref="TierKvServerException"/> element.
    /// </summary>
    public object? Execute(params string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        TierKvCommands.Any(_writer, args);
        _writer.Flush();
        return _reader.ReadValue();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
        _writer.Release();
        _reader.Release();
    }
}
