using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using TierKv.Server.Hosting;

namespace TierKv.Server.Connections;

/// <summary>
/// One client: reads commands through a <see cref="PipeReader"/>, answers into a fixed <see cref="ReplyBuffer"/>, and
/// moves values between the socket and DRAM slots in place (GET sends from the pinned slot, SET receives into a
/// reserved slot). Pipelined commands are answered in order and flushed together.
/// </summary>
internal sealed partial class RespConnection
{
    /// <summary>Values up to this size are copied into the reply buffer; larger ones are sent from their slot.</summary>
    private const int InlineValueBytes = 16 << 10;

    /// <summary>Largest argument read from a client that has not authenticated (Redis: 16 KiB... the same here).</summary>
    private const int PreAuthBulkBytes = 16 << 10;

    private readonly RespServer _server;
    private readonly Socket _socket;
    private readonly ArgRange[] _args;
    private readonly NativeWindow _window = new();
    private readonly byte[] _crlf = new byte[2];
    private readonly FrameLimits _limits;
    private readonly FrameLimits _materializedLimits;
    private readonly FrameLimits _preAuthLimits;
    private Stream _stream = Stream.Null;
    private PipeReader _reader = null!;
    private ReplyBuffer _out = null!;
    private Tenant? _tenant;
    private long _frameStarted;
    private long _sendStarted;
    private int _closed;

    public RespConnection(RespServer server, Socket socket, long id)
    {
        _server = server;
        _socket = socket;
        Id = id;
        _limits = server.Options.Limits;
        _materializedLimits = _limits with { LargeArgBytes = int.MaxValue };

        // Before AUTH (with tenants) only small frames are read, as Redis limits unauthenticated clients: a stranger
        // cannot make the server hold megabytes for a frame it will refuse anyway.
        _preAuthLimits = new FrameLimits(Math.Min(16, _limits.MaxArrayLength), PreAuthBulkBytes, Math.Min(_limits.MaxLineBytes, PreAuthBulkBytes), PreAuthBulkBytes, Math.Min(_limits.MaxCommandBytes, 4 * PreAuthBulkBytes));
        _args = new ArgRange[_limits.MaxArrayLength];
        _tenant = server.Tenants.Default;
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
    }

    public long Id { get; }

    public string Remote { get; }

    public string? ClientName { get; private set; }

    /// <summary>Stopwatch timestamp at which the frame now arriving started; 0 between frames.</summary>
    public long FrameStarted => Volatile.Read(ref _frameStarted);

    /// <summary>
    /// Stopwatch timestamp at which the reply now being sent started; 0 when none is. A client that does not read holds
    /// at most one reply beyond the socket's buffer, and is disconnected when it stays unread past the frame timeout.
    /// </summary>
    public long SendStarted => Volatile.Read(ref _sendStarted);

    /// <summary>Closes the socket (slow sender, shutdown timeout); the loop ends on its next I/O.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already gone.
            }
            catch (ObjectDisposedException)
            {
            }

            _socket.Dispose();
        }
    }

    /// <summary>Asks an idle connection to stop at its next command boundary (graceful shutdown).</summary>
    public void RequestStop()
    {
        if (Volatile.Read(ref _frameStarted) == 0)
        {
            _reader?.CancelPendingRead();
        }
    }

    public async Task RunAsync()
    {
        byte[] outBuffer = ArrayPool<byte>.Shared.Rent(_server.Options.OutputBufferBytes);
        _out = new ReplyBuffer(outBuffer.Length == _server.Options.OutputBufferBytes ? outBuffer : outBuffer);
        try
        {
            // Blocking sends and receives of large values give up on a peer that stops moving bytes.
            _socket.SendTimeout = _server.Options.FrameTimeoutSeconds * 1000;
            _socket.ReceiveTimeout = _server.Options.FrameTimeoutSeconds * 1000;
            _stream = new NetworkStream(_socket, ownsSocket: false);
            if (_server.Certificate is { } cert)
            {
                var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
                _stream = ssl;
                Volatile.Write(ref _frameStarted, Stopwatch.GetTimestamp());
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert }).ConfigureAwait(false);
                Volatile.Write(ref _frameStarted, 0);
            }

            _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 << 10, minimumReadSize: 16 << 10, leaveOpen: true));
            await LoopAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            // The peer went away, was aborted, or failed the TLS handshake: nothing to answer.
            ServerLog.ConnectionDropped(_server.Logger, Id, Remote, ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            ServerLog.ConnectionFailed(_server.Logger, ex, Id, Remote);
        }
        finally
        {
            Abort();
            if (_reader is not null)
            {
                await _reader.CompleteAsync().ConfigureAwait(false);
            }

            await _stream.DisposeAsync().ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(outBuffer);
        }
    }

    private async Task LoopAsync()
    {
        byte[]? linear = null;
        try
        {
            while (true)
            {
                if (_server.Draining && Volatile.Read(ref _frameStarted) == 0)
                {
                    return;
                }

                var rr = await _reader.ReadAsync().ConfigureAwait(false);
                if (rr.IsCanceled)
                {
                    // A shutdown request woke an idle read: release the buffer and look at the draining flag again.
                    _reader.AdvanceTo(rr.Buffer.Start);
                    continue;
                }

                var buffer = rr.Buffer;
                bool advanced = false;
                bool close = false;
                while (!buffer.IsEmpty)
                {
                    if (_server.Draining)
                    {
                        // Commands already read but not started are not acknowledged: the client sees the close.
                        close = true;
                        break;
                    }

                    ReadOnlyMemory<byte> src = buffer.First;
                    var limits = _tenant is null && _server.Tenants.AuthRequired ? _preAuthLimits : _limits;
                    var st = RespParser.TryParse(src.Span, limits, _args, out int argc, out int consumed, out long tail, out int tailIndex, out string? error);
                    if (st == ParseStatus.Incomplete && !buffer.IsSingleSegment)
                    {
                        // The command spans pipe segments: parse a linear copy of (at most) its bounded part.
                        int n = (int)Math.Min(buffer.Length, _limits.MaxCommandBytes);
                        if (linear is null || linear.Length < n)
                        {
                            if (linear is not null)
                            {
                                ArrayPool<byte>.Shared.Return(linear);
                            }

                            linear = ArrayPool<byte>.Shared.Rent(n);
                        }

                        buffer.Slice(0, n).CopyTo(linear);
                        src = linear.AsMemory(0, n);
                        st = RespParser.TryParse(src.Span, limits, _args, out argc, out consumed, out tail, out tailIndex, out error);
                    }

                    if (st == ParseStatus.Incomplete)
                    {
                        if (buffer.Length >= limits.MaxCommandBytes)
                        {
                            st = ParseStatus.Error;
                            error = Replies.CommandTooLarge(limits.MaxCommandBytes);
                        }
                        else
                        {
                            if (Volatile.Read(ref _frameStarted) == 0)
                            {
                                Volatile.Write(ref _frameStarted, Stopwatch.GetTimestamp());
                            }

                            break;
                        }
                    }

                    if (st == ParseStatus.Error)
                    {
                        _server.Instruments.ProtocolError();
                        _out.Error(error ?? Replies.ProtocolError);
                        close = true;
                        buffer = buffer.Slice(buffer.End);
                        break;
                    }

                    if (st == ParseStatus.LargeTail)
                    {
                        Volatile.Write(ref _frameStarted, Stopwatch.GetTimestamp());
                        if (_out.Length > _out.Capacity / 2)
                        {
                            await FlushAsync().ConfigureAwait(false);
                        }

                        var pending = PrepareTail(src, argc, consumed, tail, tailIndex);
                        _reader.AdvanceTo(buffer.GetPosition(consumed));
                        advanced = true;
                        close = !await ExecuteTailAsync(pending, argc, consumed, tail).ConfigureAwait(false);
                        Volatile.Write(ref _frameStarted, 0);
                        break;
                    }

                    Volatile.Write(ref _frameStarted, 0);
                    if (argc > 0)
                    {
                        if (_out.Length > _out.Capacity / 2)
                        {
                            await FlushAsync().ConfigureAwait(false);
                        }

                        if (!await ExecuteAsync(src, argc).ConfigureAwait(false))
                        {
                            close = true;
                        }
                    }

                    buffer = buffer.Slice(consumed);
                    if (close)
                    {
                        break;
                    }
                }

                if (_out.Length > 0)
                {
                    await FlushAsync().ConfigureAwait(false);
                }

                if (!advanced)
                {
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                }

                if (close)
                {
                    return;
                }

                if (!advanced && rr.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            if (linear is not null)
            {
                ArrayPool<byte>.Shared.Return(linear);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushAsync()
    {
        var pending = _out.Pending;
        _out.Clear();
        await SendAsync(pending).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends bytes (the reply buffer, or a large value in place: a DRAM record or a read buffer). Asynchronous, so a
    /// client that stops reading holds no thread: the send waits in the socket, and the server's monitor disconnects
    /// the client when it stays unread past the frame timeout (Redis's client-output-buffer-limit, as a time).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        Volatile.Write(ref _sendStarted, Stopwatch.GetTimestamp());
        try
        {
            await _stream.WriteAsync(bytes).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _sendStarted, 0);
        }
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with the next bytes of the stream: first what the pipe already holds, then
    /// (for large remainders) straight from the stream into the destination, bypassing the pipe.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(Memory<byte> destination)
    {
        int have = 0;
        while (have < destination.Length)
        {
            if (!_reader.TryRead(out var rr))
            {
                if (destination.Length - have >= InlineValueBytes)
                {
                    // The rest of a large value: off the socket engine's thread, straight into the destination.
                    await Task.Yield();
                    while (have < destination.Length)
                    {
                        int n = _stream.Read(destination.Span[have..]);
                        if (n == 0)
                        {
                            return false;
                        }

                        have += n;
                    }

                    return true;
                }

                rr = await _reader.ReadAsync().ConfigureAwait(false);
            }

            var buf = rr.Buffer;
            int take = (int)Math.Min(buf.Length, destination.Length - have);
            buf.Slice(0, take).CopyTo(destination.Span[have..]);
            _reader.AdvanceTo(buf.GetPosition(take));
            have += take;
            if (take == 0 && rr.IsCompleted)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads and drops <paramref name="count"/> bytes (a value that cannot be stored), keeping memory bounded.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> DiscardAsync(long count)
    {
        while (count > 0)
        {
            var rr = await _reader.ReadAsync().ConfigureAwait(false);
            var buf = rr.Buffer;
            long take = Math.Min(buf.Length, count);
            _reader.AdvanceTo(buf.GetPosition(take));
            count -= take;
            if (take == 0 && rr.IsCompleted)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads the CRLF that ends a streamed value; false when something else is there.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ExpectCrlfAsync()
    {
        if (!await FillAsync(_crlf).ConfigureAwait(false))
        {
            return false;
        }

        return _crlf[0] == (byte)'\r' && _crlf[1] == (byte)'\n';
    }
}
