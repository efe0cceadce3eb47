using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;

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
public sealed partial class TierKvAsyncClient : IAsyncDisposable, IDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly RespRequestWriter _writer;
    private readonly RespReplyReader _reader;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _closedBecause;
    private int _disposed;

    private TierKvAsyncClient(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
        _writer = new RespRequestWriter(stream);
        _reader = new RespReplyReader(stream);
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
    public async ValueTask PingAsync(CancellationToken cancellationToken = default) =>
        await CallAsync<PingCall, bool>(default, cancellationToken).ConfigureAwait(false);

    /// <summary>AUTH [user] token.</summary>
    public async ValueTask AuthAsync(string token, string? user = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        await CallAsync<AuthCall, bool>(new(token, user), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Plain <c>SET name value</c>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetAsync(ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        await CallAsync<SetCall, bool>(new(name, value), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Plain <c>GET name</c> into <paramref name="destination"/>; returns the value's length, or -1 when absent. A value
    /// larger than <paramref name="destination"/> is read past and throws <see cref="ArgumentException"/>; the client stays usable.
    /// </summary>
    public ValueTask<int> GetAsync(ReadOnlyMemory<byte> name, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        CallAsync<GetCall, int>(new(name, null, destination), cancellationToken);

    /// <summary><c>KV.PUT</c>: stores a chunk; true when stored now, false when it was already held.</summary>
    public ValueTask<bool> PutAsync(ChunkKey key, ReadOnlyMemory<byte> value, ChunkKey? parent = null, CancellationToken cancellationToken = default) =>
        CallAsync<PutCall, bool>(new(key, value, parent), cancellationToken);

    /// <summary>
    /// <c>KV.GET</c> into <paramref name="destination"/>; returns the length, or -1 when absent. A value larger than
    /// <paramref name="destination"/> is read past and throws <see cref="ArgumentException"/>; the client stays usable.
    /// </summary>
    public ValueTask<int> GetChunkAsync(ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        CallAsync<GetCall, int>(new(default, key, destination), cancellationToken);

    /// <summary><c>KV.LOOKUP KEYS</c>: the number of leading chunks of <paramref name="keys"/> the server holds.</summary>
    public ValueTask<int> LookupAsync(ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default) =>
        CallAsync<KeysCall, int>(new(keys, Lookup: true), cancellationToken);

    /// <summary><c>KV.LOOKUP TOKENS</c>: the number of leading tokens whose chunks the server holds.</summary>
    public ValueTask<int> LookupTokensAsync(ReadOnlyMemory<int> tokens, CancellationToken cancellationToken = default) =>
        CallAsync<LookupTokensCall, int>(new(tokens), cancellationToken);

    /// <summary><c>KV.EXISTS</c>: one flag per key into <paramref name="present"/> (at least as long as <paramref name="keys"/>).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ExistsAsync(ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        if (present.Length < keys.Length)
        {
            throw new ArgumentException($"present holds {present.Length} flags for {keys.Length} keys.", nameof(present));
        }

        await CallAsync<ExistsCall, bool>(new(keys, present), cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>KV.DEL</c>: deletes chunks; returns how many were held.</summary>
    public ValueTask<int> DeleteAsync(ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default) =>
        CallAsync<KeysCall, int>(new(keys, Lookup: false), cancellationToken);

    /// <summary><c>KV.PIN</c>: pins the held chunks among <paramref name="keys"/>; returns how many are pinned.</summary>
    public ValueTask<int> PinAsync(ReadOnlyMemory<ChunkKey> keys, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        CallAsync<PinCall, int>(new(keys, ttl, Unpin: false), cancellationToken);

    /// <summary><c>KV.UNPIN</c>: returns how many of <paramref name="keys"/> were pinned.</summary>
    public ValueTask<int> UnpinAsync(ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default) =>
        CallAsync<PinCall, int>(new(keys, null, Unpin: true), cancellationToken);

    /// <summary><c>KV.STATS</c> as name/value text pairs.</summary>
    public async ValueTask<IReadOnlyDictionary<string, string>> StatsAsync(CancellationToken cancellationToken = default) =>
        TierKvCommands.StatsFrom(await ExecuteAsync(["KV.STATS"], cancellationToken).ConfigureAwait(false));

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

        for (int i = 0; i < args.Count; i++)
        {
            _ = args[i] ?? throw new ArgumentException($"Argument {i} is null.", nameof(args));
        }

        return await CallAsync<AnyCall, object?>(new(args), cancellationToken).ConfigureAwait(false);
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
        _writer.Release();
        _reader.Release();
    }

    // ---- the one guarded call path ----

    /// <summary>
    /// Every command runs here: take the lock, send, read the whole reply, release. A failure between the first byte
    /// sent and the last byte of the reply leaves the stream at an unknown place, so the connection is closed and every
    /// later call throws <see cref="ObjectDisposedException"/> naming the reason; any other failure leaves it usable.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TResult> CallAsync<TCall, TResult>(TCall call, CancellationToken cancellationToken)
        where TCall : struct, IRespCall<TResult>
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Writing the command cannot fail before its first byte goes out (the send buffer grows to hold it), so
            // from here until the reader has the whole reply a failure leaves the stream out of step.
            _reader.MidReply = true;
            await call.SendAsync(_writer, cancellationToken).ConfigureAwait(false);
            return await call.ReadAsync(_reader, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_reader.MidReply)
        {
            Close(ex);
            throw;
        }
        finally
        {
            Exit();
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
    }

    private void Exit()
    {
        // A command that needed a bigger send buffer does not keep it.
        if (_closedBecause is null)
        {
            _writer.Trim();
        }

        _gate.Release();
    }

    private void Close(Exception cause)
    {
        _reader.MidReply = false;
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
}
