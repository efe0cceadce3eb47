using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;

namespace TierKv.Server.Client;

/// <summary>
/// Encodes a command as a RESP array into a pooled send buffer and sends it, for both clients. The whole command but a
/// large last argument sits in the buffer before a byte goes out (the buffer grows for a long command and shrinks back
/// at the next one); a large last argument goes to the stream straight from the caller's memory. Not thread-safe.
/// </summary>
internal sealed class RespRequestWriter(Stream stream)
{
    /// <summary>The send buffer's usual size.</summary>
    public const int BufferBytes = 64 << 10;

    // The most a header ("$" + a long + CRLF) takes.
    private const int HeaderBytes = 24;

    private readonly Stream _stream = stream;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
    private int _length;

    /// <summary>Starts a command of <paramref name="count"/> arguments (its name included).</summary>
    public void Begin(int count)
    {
        _length = 0;
        Trim();
        Header((byte)'*', count);
    }

    /// <summary>One argument, copied into the buffer.</summary>
    public void Arg(ReadOnlySpan<byte> bytes)
    {
        Header((byte)'$', bytes.Length);
        Reserve(bytes.Length + 2);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
        Crlf();
    }

    /// <summary>One argument as UTF-8.</summary>
    public void ArgText(string text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        Header((byte)'$', n);
        Reserve(n + 2);
        _length += Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_length));
        Crlf();
    }

    /// <summary>A chunk key as 32 lowercase hex digits.</summary>
    public void ArgKey(in ChunkKey key)
    {
        Header((byte)'$', 32);
        Reserve(34);
        key.Value.TryFormat(_buffer.AsSpan(_length, 32), out _, "x32", CultureInfo.InvariantCulture);
        _length += 32;
        Crlf();
    }

    /// <summary>One argument per key.</summary>
    public void ArgKeys(ReadOnlySpan<ChunkKey> keys)
    {
        foreach (var key in keys)
        {
            ArgKey(key);
        }
    }

    /// <summary>Sends the buffered command.</summary>
    public void Flush()
    {
        if (_length > 0)
        {
            _stream.Write(_buffer, 0, _length);
            _length = 0;
        }
    }

    /// <summary>Sends the buffered command.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        int n = _length;
        _length = 0;
        return n == 0 ? ValueTask.CompletedTask : _stream.WriteAsync(_buffer.AsMemory(0, n), cancellationToken);
    }

    /// <summary>The last argument and the send: a small value joins the buffered command (one send), a large one goes to the stream straight from <paramref name="value"/>.</summary>
    public void SendLast(ReadOnlySpan<byte> value)
    {
        if (!TryArgLast(value))
        {
            Flush();
            _stream.Write(value);
            Crlf();
        }

        Flush();
    }

    /// <inheritdoc cref="SendLast"/>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendLastAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        if (!TryArgLast(value.Span))
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            await _stream.WriteAsync(value, cancellationToken).ConfigureAwait(false);
            Crlf();
        }

        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The last argument as token ids in little-endian u32 (the machine's order on every platform .NET runs TierKV on),
    /// copied through the send buffer in pieces (memory of ints cannot be viewed as bytes without allocating), and the send.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendTokensAsync(ReadOnlyMemory<int> tokens, CancellationToken cancellationToken)
    {
        Header((byte)'$', (long)tokens.Length * sizeof(int));
        for (int done = 0; done < tokens.Length;)
        {
            // Room is left for the closing CRLF.
            int n = Math.Min((_buffer.Length - _length - 2) / sizeof(int), tokens.Length - done);
            MemoryMarshal.AsBytes(tokens.Span.Slice(done, n)).CopyTo(_buffer.AsSpan(_length));
            _length += n * sizeof(int);
            done += n;
            if (done < tokens.Length)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        Crlf();
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gives back a buffer grown for a long command.</summary>
    public void Trim()
    {
        if (_buffer.Length > BufferBytes)
        {
            Swap(ArrayPool<byte>.Shared.Rent(BufferBytes));
        }
    }

    /// <summary>Returns the buffer to the pool; a later command rents a new one.</summary>
    public void Release() => Swap([]);

    /// <summary>Appends a small last argument and returns true, or only a large one's header and returns false.</summary>
    private bool TryArgLast(ReadOnlySpan<byte> value)
    {
        if (value.Length + 40 <= _buffer.Length - _length)
        {
            Arg(value);
            return true;
        }

        Header((byte)'$', value.Length);
        return false;
    }

    private void Header(byte prefix, long n)
    {
        Reserve(HeaderBytes);
        _buffer[_length++] = prefix;
        Utf8Formatter.TryFormat(n, _buffer.AsSpan(_length), out int w);
        _length += w;
        Crlf();
    }

    private void Crlf()
    {
        Reserve(2);
        _buffer[_length++] = (byte)'\r';
        _buffer[_length++] = (byte)'\n';
    }

    private void Reserve(int bytes)
    {
        if (bytes > _buffer.Length - _length)
        {
            Grow(bytes);
        }
    }

    private void Grow(int bytes)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_length + bytes, Math.Max(2 * _buffer.Length, BufferBytes)));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        Swap(bigger);
    }

    private void Swap(byte[] buffer)
    {
        var old = _buffer;
        _buffer = buffer;
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }
}
