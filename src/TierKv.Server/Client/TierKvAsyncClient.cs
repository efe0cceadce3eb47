using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using TierKv.Keys;

namespace TierKv.Server.Client;

/// <summary>
/// An asynchronous client for <c>tierkv serve</c> (and, for the plain commands, any Redis server) over one connection,
/// with the same commands as <see cref="TierKvClient"/>. All I/O is asynchronous socket (or TLS stream) I/O.
/// </summary>
/// <remarks>
/// <para><b>Concurrent callers</b> are safe: calls queue on an async lock and run one at a time on the connection
/// (a command and its whole reply), so replies can never be mixed up. For parallel throughput open several clients.</para>
/// <para><b>Cancellation</b>: a call cancelled before it is sent (already cancelled, or while queued behind another
/// caller) throws <see cref="OperationCanceledException"/> and leaves the client usable. A call cancelled once it has
/// begun sending also throws <see cref="OperationCanceledException"/>, but the reply stream can no longer be
/// trusted, so the client closes its connection: <see cref="IsConnected"/> turns false and every later call throws
/// <see cref="ObjectDisposedException"/> naming the reason. Likewise an I/O failure (server gone, connection reset)
/// throws <see cref="IOException"/> once and closes the client. Server error replies throw
/// <see cref="TierKvServerException"/> and leave the client usable. There is no built-in timeout: pass a token
/// (<see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/>).</para>
/// <para><b>Allocations</b>: the two 64 KiB buffers are rented from <see cref="ArrayPool{T}"/> per connection; values
/// move between the caller's memory and the socket without intermediate copies; lookups, puts and gets allocate
/// nothing per call when the lock is free and the token cannot be cancelled (the hot methods use pooled async state
/// machines; a contended lock or a cancellable token may allocate a waiter or a registration).
/// <see cref="StatsAsync"/> and <see cref="ExecuteAsync"/> build objects by nature.</para>
/// </remarks>
public sealed class TierKvAsyncClient : IAsyncDisposable, IDisposable
{
    private const int BufferBytes = 64 << 10;

    // "$32\r\n" + 32 hex digits + "\r\n".
    private const int KeyArgBytes = 39;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private byte[] _send;
    private byte[] _recv;
    private int _sendLen;
    private int _rpos;
    private int _rlen;

    // True from the first byte of a command sent until its reply is read in full: an exception in between leaves the
    // stream at an unknown place, so the connection is closed.
    private bool _dirty;
    private string? _closedBecause;
    private int _disposed;

    private TierKvAsyncClient(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
        _send = ArrayPool<byte>.Shared.Rent(BufferBytes);
        _recv = ArrayPool<byte>.Shared.Rent(BufferBytes);
    }

    /// <summary>False once the client is disposed or closed its connection after a cancelled or failed call.</summary>
    public bool IsConnected => _closedBecause is null;

    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/>; with <paramref name="tlsTargetHost"/>, over TLS
    /// (accepting any certificate when <paramref name="allowUntrusted"/>).
    /// </summary>
    public static async Task<TierKvAsyncClient> ConnectAsync(string host, int port, string? tlsTargetHost = null, bool allowUntrusted = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (tlsTargetHost is not null)
            {
                var ssl = new SslStream(stream, false);
                var options = new SslClientAuthenticationOptions { TargetHost = tlsTargetHost };
                if (allowUntrusted)
                {
                    options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
                }

                await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
                stream = ssl;
            }

            return new TierKvAsyncClient(socket, stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>PING; throws unless the server answers.</summary>
    public async ValueTask PingAsync(CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(1, 32);
            Arg("PING"u8);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            await ExpectSimpleAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>AUTH [user] token.</summary>
    public async ValueTask AuthAsync(string token, string? user = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(user is null ? 2 : 3, 64 + Encoding.UTF8.GetByteCount(token) + (user is null ? 0 : Encoding.UTF8.GetByteCount(user)));
            Arg("AUTH"u8);
            if (user is not null)
            {
                ArgText(user);
            }

            ArgText(token);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            await ExpectSimpleAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Plain <c>SET name value</c>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetAsync(ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(3, 64 + name.Length);
            Arg("SET"u8);
            Arg(name.Span);
            await SendValueAsync(value, cancellationToken).ConfigureAwait(false);
            await ExpectSimpleAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Plain <c>GET name</c> into <paramref name="destination"/>; returns the value's length, or -1 when absent. A value
    /// larger than <paramref name="destination"/> is read past and throws <see cref="ArgumentException"/>; the client stays usable.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> GetAsync(ReadOnlyMemory<byte> name, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(2, 64 + name.Length);
            Arg("GET"u8);
            Arg(name.Span);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            return await ReadBulkIntoAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary><c>KV.PUT</c>: stores a chunk; true when stored now, false when it was already held.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> PutAsync(ChunkKey key, ReadOnlyMemory<byte> value, ChunkKey? parent = null, CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(parent is null ? 3 : 5, 160);
            Arg("KV.PUT"u8);
            ArgKey(key);
            if (parent is { } pk)
            {
                Arg("PARENT"u8);
                ArgKey(pk);
            }

            await SendValueAsync(value, cancellationToken).ConfigureAwait(false);
            return await ReadIntegerAsync(cancellationToken).ConfigureAwait(false) == 1;
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// <c>KV.GET</c> into <paramref name="destination"/>; returns the length, or -1 when absent. A value larger than
    /// <paramref name="destination"/> is read past and throws <see cref="ArgumentException"/>; the client stays usable.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> GetChunkAsync(ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(2, 64);
            Arg("KV.GET"u8);
            ArgKey(key);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            return await ReadBulkIntoAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary><c>KV.LOOKUP KEYS</c>: the number of leading chunks of <paramref name="keys"/> the server holds.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> LookupAsync(ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(keys.Length + 2, 64 + keys.Length * KeyArgBytes);
            Arg("KV.LOOKUP"u8);
            Arg("KEYS"u8);
            ArgKeys(keys.Span);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            return (int)await ReadIntegerAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary><c>KV.LOOKUP TOKENS</c>: the number of leading tokens whose chunks the server holds.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> LookupTokensAsync(ReadOnlyMemory<int> tokens, CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(3, 64);
            Arg("KV.LOOKUP"u8);
            Arg("TOKENS"u8);
            await SendTokensAsync(tokens, cancellationToken).ConfigureAwait(false);
            return (int)await ReadIntegerAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary><c>KV.EXISTS</c>: one flag per key into <paramref name="present"/> (at least as long as <paramref name="keys"/>).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ExistsAsync(ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        if (present.Length < keys.Length)
        {
            throw new ArgumentException($"present holds {present.Length} flags for {keys.Length} keys.", nameof(present));
        }

        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(keys.Length + 1, 64 + keys.Length * KeyArgBytes);
            Arg("KV.EXISTS"u8);
            ArgKeys(keys.Span);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            long n = await ReadLengthAsync((byte)'*', cancellationToken).ConfigureAwait(false);
            if (n != keys.Length)
            {
                throw new IOException($"KV.EXISTS of {keys.Length} keys answered {n} flags.");
            }

            _dirty = true;
            for (int i = 0; i < n; i++)
            {
                bool held;
                try
                {
                    held = await ReadIntegerAsync(cancellationToken).ConfigureAwait(false) == 1;
                }
                catch (TierKvServerException) when (i + 1 < n)
                {
                    // An error in place of a flag leaves the rest of the array unread: the stream is out of step.
                    _dirty = true;
                    throw;
                }

                present.Span[i] = held;
                _dirty = true;
            }

            _dirty = false;
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary><c>KV.DEL</c>: deletes chunks; returns how many were held.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> DeleteAsync(ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(keys.Length + 1, 64 + keys.Length * KeyArgBytes);
            Arg("KV.DEL"u8);
            ArgKeys(keys.Span);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            return (int)await ReadIntegerAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary><c>KV.STATS</c> as name/value text pairs.</summary>
    public async ValueTask<IReadOnlyDictionary<string, string>> StatsAsync(CancellationToken cancellationToken = default)
    {
        var reply = await ExecuteAsync(["KV.STATS"], cancellationToken).ConfigureAwait(false) as object?[] ?? [];
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < reply.Length; i += 2)
        {
            d[reply[i]?.ToString() ?? ""] = Convert.ToString(reply[i + 1], CultureInfo.InvariantCulture) ?? "";
        }

        return d;
    }

    /// <summary>
    /// Sends any command and returns the reply: a string (simple, bulk, verbatim), a long (integer), an
    /// <c>object?[]</c> (array; a RESP3 map is flattened into key, value, ...), or null. An error reply throws
    /// <see cref="TierKvServerException"/>; an error inside an array is returned as a <see cref="TierKvServerException"/> element.
    /// </summary>
    public async ValueTask<object?> ExecuteAsync(IReadOnlyList<string> args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count == 0)
        {
            throw new ArgumentException("A command needs at least its name.", nameof(args));
        }

        int bytes = 32;
        for (int i = 0; i < args.Count; i++)
        {
            bytes += 24 + Encoding.UTF8.GetByteCount(args[i] ?? throw new ArgumentException($"Argument {i} is null.", nameof(args)));
        }

        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Begin(args.Count, bytes);
            for (int i = 0; i < args.Count; i++)
            {
                ArgText(args[i]);
            }

            await FlushAsync(cancellationToken).ConfigureAwait(false);
            var value = await ReadValueAsync(cancellationToken).ConfigureAwait(false);
            _dirty = false;
            return value is TierKvServerException error ? throw error : value;
        }
        catch (Exception ex) when (_dirty)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Closes the connection; a call in flight fails with an <see cref="IOException"/> or <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        CloseConnection("the client was disposed");

        // The buffers go back to the pool only when no call is using them; a call still unwinding keeps them, and
        // the GC takes them instead.
        if (_gate.Wait(0))
        {
            ReturnBuffers();
            _gate.Release();
        }
    }

    /// <summary>Closes the connection and waits for a call in flight to finish failing, then returns the buffers.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        CloseConnection("the client was disposed");
        await _gate.WaitAsync().ConfigureAwait(false);
        ReturnBuffers();
        _gate.Release();
    }

    private void ReturnBuffers()
    {
        var send = _send;
        var recv = _recv;
        _send = [];
        _recv = [];
        if (send.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(send);
        }

        if (recv.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(recv);
        }
    }

    // ---- the lock and the connection's state ----

    private ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var wait = _gate.WaitAsync(cancellationToken);
        if (wait.IsCompletedSuccessfully)
        {
            CheckOpenHoldingGate();
            return ValueTask.CompletedTask;
        }

        return EnterSlowAsync(wait);
    }

    private async ValueTask EnterSlowAsync(Task wait)
    {
        await wait.ConfigureAwait(false);
        CheckOpenHoldingGate();
    }

    private void CheckOpenHoldingGate()
    {
        if (_closedBecause is { } why)
        {
            _gate.Release();
            ThrowClosed(why);
        }

        _dirty = false;
    }

    private void Exit()
    {
        // A command that needed a bigger send buffer does not keep it.
        if (_send.Length > BufferBytes && _closedBecause is null)
        {
            ArrayPool<byte>.Shared.Return(_send);
            _send = ArrayPool<byte>.Shared.Rent(BufferBytes);
        }

        _gate.Release();
    }

    private void Close(Exception cause)
    {
        _dirty = false;
        CloseConnection(cause is OperationCanceledException
            ? "a call was cancelled after it began sending, so the reply stream could not be trusted"
            : $"a call failed mid-command ({cause.GetType().Name}: {cause.Message})");
    }

    private void CloseConnection(string why)
    {
        if (Interlocked.CompareExchange(ref _closedBecause, why, null) is not null)
        {
            return;
        }

        try
        {
            _stream.Dispose();
        }
        catch (IOException)
        {
            // A TLS stream may try to send its close message on a dead connection; the socket goes anyway.
        }

        _socket.Dispose();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowClosed(string why) =>
        throw new ObjectDisposedException(nameof(TierKvAsyncClient), $"The client's connection is closed: {why}. Connect a new client.");

    // ---- building a command (synchronous: the whole command but a streamed value sits in the send buffer before a byte goes out) ----

    private void Begin(int count, int bytes)
    {
        _sendLen = 0;
        if (bytes > _send.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(bytes);
            ArrayPool<byte>.Shared.Return(_send);
            _send = bigger;
        }

        Header((byte)'*', count);
    }

    private void Header(byte prefix, long n)
    {
        _send[_sendLen++] = prefix;
        Utf8Formatter.TryFormat(n, _send.AsSpan(_sendLen), out int w);
        _sendLen += w;
        _send[_sendLen++] = (byte)'\r';
        _send[_sendLen++] = (byte)'\n';
    }

    private void Arg(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length + 24 > _send.Length - _sendLen)
        {
            throw new ArgumentException($"An argument of {bytes.Length} bytes is too large for a name; only the value may be large.");
        }

        Header((byte)'$', bytes.Length);
        bytes.CopyTo(_send.AsSpan(_sendLen));
        _sendLen += bytes.Length;
        _send[_sendLen++] = (byte)'\r';
        _send[_sendLen++] = (byte)'\n';
    }

    private void ArgText(string text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        Header((byte)'$', n);
        _sendLen += Encoding.UTF8.GetBytes(text, _send.AsSpan(_sendLen));
        _send[_sendLen++] = (byte)'\r';
        _send[_sendLen++] = (byte)'\n';
    }

    private void ArgKey(ChunkKey key)
    {
        Header((byte)'$', 32);
        key.Value.TryFormat(_send.AsSpan(_sendLen, 32), out _, "x32", CultureInfo.InvariantCulture);
        _sendLen += 32;
        _send[_sendLen++] = (byte)'\r';
        _send[_sendLen++] = (byte)'\n';
    }

    private void ArgKeys(ReadOnlySpan<ChunkKey> keys)
    {
        foreach (var key in keys)
        {
            ArgKey(key);
        }
    }

    // ---- sending ----

    private ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        int n = _sendLen;
        _sendLen = 0;
        _dirty = true;
        return n == 0 ? ValueTask.CompletedTask : _stream.WriteAsync(_send.AsMemory(0, n), cancellationToken);
    }

    /// <summary>The last argument: a small one joins the buffered command (one send), a large one goes to the socket straight from the caller's memory.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendValueAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        if (value.Length + 40 <= _send.Length - _sendLen)
        {
            Arg(value.Span);
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        Header((byte)'$', value.Length);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await _stream.WriteAsync(value, cancellationToken).ConfigureAwait(false);
        _send[0] = (byte)'\r';
        _send[1] = (byte)'\n';
        _sendLen = 2;
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Token ids as little-endian u32 (the machine's order on every platform .NET runs TierKV on), copied through the send buffer in pieces.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendTokensAsync(ReadOnlyMemory<int> tokens, CancellationToken cancellationToken)
    {
        Header((byte)'$', (long)tokens.Length * sizeof(int));
        int per = (_send.Length - _sendLen - 2) / sizeof(int);
        for (int done = 0; done < tokens.Length;)
        {
            int n = Math.Min(per, tokens.Length - done);
            MemoryMarshal.AsBytes(tokens.Span.Slice(done, n)).CopyTo(_send.AsSpan(_sendLen));
            _sendLen += n * sizeof(int);
            done += n;
            if (done < tokens.Length)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
                per = _send.Length / sizeof(int);
            }
        }

        if (_sendLen + 2 > _send.Length)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        _send[_sendLen++] = (byte)'\r';
        _send[_sendLen++] = (byte)'\n';
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    // ---- receiving ----

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync(CancellationToken cancellationToken)
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

        int n = await _stream.ReadAsync(_recv.AsMemory(_rlen), cancellationToken).ConfigureAwait(false);
        if (n == 0)
        {
            throw new IOException("The server closed the connection.");
        }

        _rlen += n;
    }

    /// <summary>Position of the next line's '\n' in the receive buffer, or -1 when it has not arrived yet.</summary>
    private int FindLineEnd()
    {
        int nl = _recv.AsSpan(_rpos, _rlen - _rpos).IndexOf((byte)'\n');
        return nl >= 1 ? _rpos + nl : -1;
    }

    /// <summary>Makes sure a whole line is buffered (one read when it has not arrived yet, rarely more).</summary>
    private ValueTask EnsureLineAsync(CancellationToken cancellationToken) =>
        FindLineEnd() >= 0 ? ValueTask.CompletedTask : EnsureLineSlowAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EnsureLineSlowAsync(CancellationToken cancellationToken)
    {
        while (FindLineEnd() < 0)
        {
            if (_rlen - _rpos >= _recv.Length)
            {
                throw new IOException("A reply line is longer than the client's buffer.");
            }

            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the buffered line (without CRLF); returns its bounds in the receive buffer.</summary>
    private (int Start, int Length) TakeLine()
    {
        int end = FindLineEnd();
        int start = _rpos;
        _rpos = end + 1;
        return (start, end - 1 - start);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<long> ReadLengthAsync(byte expected, CancellationToken cancellationToken)
    {
        await EnsureLineAsync(cancellationToken).ConfigureAwait(false);
        return ParseLength(expected);
    }

    /// <summary>Parses a header line; an error reply is consumed whole and thrown (the stream stays in step).</summary>
    private long ParseLength(byte expected)
    {
        var (s, l) = TakeLine();
        byte kind = _recv[s];
        if (kind == (byte)'-')
        {
            _dirty = false;
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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<long> ReadIntegerAsync(CancellationToken cancellationToken)
    {
        await EnsureLineAsync(cancellationToken).ConfigureAwait(false);
        long n = ParseLength((byte)':');
        _dirty = false;
        return n;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ExpectSimpleAsync(CancellationToken cancellationToken)
    {
        await EnsureLineAsync(cancellationToken).ConfigureAwait(false);
        var (s, l) = TakeLine();
        _dirty = false;
        if (_recv[s] == (byte)'-')
        {
            throw new TierKvServerException(Encoding.UTF8.GetString(_recv, s + 1, l - 1));
        }

        if (_recv[s] != (byte)'+')
        {
            _dirty = true;
            throw new IOException($"Expected a '+' reply, got '{Encoding.ASCII.GetString(_recv, s, Math.Min(l, 64))}'.");
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadBulkIntoAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        await EnsureLineAsync(cancellationToken).ConfigureAwait(false);
        long len = ParseLength((byte)'$');
        if (len < 0)
        {
            _dirty = false;
            return -1;
        }

        if (len > destination.Length)
        {
            // Read past the value so the next reply is in step, then report the caller's mistake.
            await SkipAsync(len + 2, cancellationToken).ConfigureAwait(false);
            _dirty = false;
            throw new ArgumentException($"The value has {len} bytes but the destination holds {destination.Length}.", nameof(destination));
        }

        int have = Math.Min(_rlen - _rpos, (int)len);
        _recv.AsSpan(_rpos, have).CopyTo(destination.Span);
        _rpos += have;
        while (have < len)
        {
            // The rest goes from the socket straight into the caller's memory.
            int n = await _stream.ReadAsync(destination[have..(int)len], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("The server closed the connection in the middle of a value.");
            }

            have += n;
        }

        await EnsureLineAsync(cancellationToken).ConfigureAwait(false);
        TakeLine();
        _dirty = false;
        return (int)len;
    }

    private async ValueTask SkipAsync(long bytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            long take = Math.Min(bytes, _rlen - _rpos);
            _rpos += (int)take;
            bytes -= take;
            if (bytes == 0)
            {
                return;
            }

            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads one whole reply of any kind, RESP2 or RESP3 (errors come back as exception objects, not thrown).</summary>
    private async ValueTask<object?> ReadValueAsync(CancellationToken cancellationToken)
    {
        await EnsureLineAsync(cancellationToken).ConfigureAwait(false);
        var (s, l) = TakeLine();
        byte kind = _recv[s];
        switch (kind)
        {
            case (byte)'+':
                return Encoding.UTF8.GetString(_recv, s + 1, l - 1);
            case (byte)'-':
                return new TierKvServerException(Encoding.UTF8.GetString(_recv, s + 1, l - 1));
            case (byte)':':
                Utf8Parser.TryParse(_recv.AsSpan(s + 1, l - 1), out long i, out _);
                return i;
            case (byte)'_':
                return null;
            case (byte)'$':
            case (byte)'=':
            case (byte)'!':
                Utf8Parser.TryParse(_recv.AsSpan(s + 1, l - 1), out long len, out _);
                if (len < 0)
                {
                    return null;
                }

                var buf = new byte[len];
                int have = Math.Min(_rlen - _rpos, buf.Length);
                _recv.AsSpan(_rpos, have).CopyTo(buf);
                _rpos += have;
                while (have < buf.Length)
                {
                    int n = await _stream.ReadAsync(buf.AsMemory(have), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException("The server closed the connection in the middle of a value.");
                    }

                    have += n;
                }

                await EnsureLineAsync(cancellationToken).ConfigureAwait(false);
                TakeLine();
                var text = Encoding.UTF8.GetString(buf);
                return kind switch
                {
                    (byte)'!' => new TierKvServerException(text),
                    (byte)'=' when text.Length >= 4 => text[4..],
                    _ => text,
                };
            case (byte)'*':
            case (byte)'~':
            case (byte)'>':
            case (byte)'%':
                Utf8Parser.TryParse(_recv.AsSpan(s + 1, l - 1), out long count, out _);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[kind == (byte)'%' ? 2 * count : count];
                for (long k = 0; k < items.Length; k++)
                {
                    items[k] = await ReadValueAsync(cancellationToken).ConfigureAwait(false);
                }

                return items;
            default:
                // One-line RESP3 types (',' double, '#' boolean, '(' big number) come back as their text.
                return Encoding.UTF8.GetString(_recv, s, l);
        }
    }
}
