using System.Buffers.Text;

namespace TierKv.Server.Protocol;

/// <summary>
/// A connection's output buffer with RESP2/RESP3 writers. Fixed size, so a client that does not read cannot make the
/// server buffer without bound: the connection flushes before a reply could overflow it, and large values bypass it.
/// </summary>
internal sealed class ReplyBuffer
{
    private readonly byte[] _buffer;
    private int _length;

    public ReplyBuffer(byte[] buffer) => _buffer = buffer;

    /// <summary>RESP version: 2, or 3 after <c>HELLO 3</c>.</summary>
    public int Protocol { get; set; } = 2;

    public int Length => _length;

    public int Free => _buffer.Length - _length;

    public int Capacity => _buffer.Length;

    public ReadOnlyMemory<byte> Pending => _buffer.AsMemory(0, _length);

    public byte[] Array => _buffer;

    public void Clear() => _length = 0;

    public void Ok() => Raw("+OK\r\n"u8);

    public void Pong() => Raw("+PONG\r\n"u8);

    public void Simple(ReadOnlySpan<byte> text)
    {
        Ensure(text.Length + 3);
        _buffer[_length++] = (byte)'+';
        Raw(text);
        Crlf();
    }

    /// <summary>An error reply; <paramref name="message"/> starts with its code (ERR, NOAUTH, WRONGPASS, ...).</summary>
    public void Error(string message)
    {
        int max = Encoding.UTF8.GetMaxByteCount(message.Length);
        Ensure(max + 3);
        _buffer[_length++] = (byte)'-';
        int n = Encoding.UTF8.GetBytes(message, _buffer.AsSpan(_length));

        // CR or LF inside an error would end the frame early: replace them.
        var written = _buffer.AsSpan(_length, n);
        written.Replace((byte)'\r', (byte)' ');
        written.Replace((byte)'\n', (byte)' ');
        _length += n;
        Crlf();
    }

    public void Integer(long value) => Prefixed((byte)':', value);

    public void ArrayHeader(int count) => Prefixed((byte)'*', count);

    /// <summary>A map header: RESP3 '%', or a flat array of 2 × <paramref name="pairs"/> in RESP2.</summary>
    public void MapHeader(int pairs)
    {
        if (Protocol >= 3)
        {
            Prefixed((byte)'%', pairs);
        }
        else
        {
            Prefixed((byte)'*', 2L * pairs);
        }
    }

    public void Null()
    {
        if (Protocol >= 3)
        {
            Raw("_\r\n"u8);
        }
        else
        {
            Raw("$-1\r\n"u8);
        }
    }

    public void BulkHeader(long length) => Prefixed((byte)'$', length);

    public void Bulk(ReadOnlySpan<byte> value)
    {
        BulkHeader(value.Length);
        Raw(value);
        Crlf();
    }

    public void Bulk(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Ensure(max + 24);
        Span<byte> tmp = max <= 1024 ? stackalloc byte[max] : new byte[max];
        int n = Encoding.UTF8.GetBytes(value, tmp);
        Bulk(tmp[..n]);
    }

    /// <summary>A bulk string in RESP2, a verbatim string ("txt") in RESP3 (what INFO answers).</summary>
    public void Verbatim(string text)
    {
        if (Protocol < 3)
        {
            Bulk(text);
            return;
        }

        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        Span<byte> tmp = max <= 1024 ? stackalloc byte[max] : new byte[max];
        int n = Encoding.UTF8.GetBytes(text, tmp);
        Prefixed((byte)'=', n + 4);
        Raw("txt:"u8);
        Raw(tmp[..n]);
        Crlf();
    }

    public void Crlf() => Raw("\r\n"u8);

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Prefixed(byte prefix, long value)
    {
        Ensure(24);
        _buffer[_length++] = prefix;
        Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out int n);
        _length += n;
        Crlf();
    }

    private void Ensure(int bytes)
    {
        if (bytes > Free)
        {
            // The connection flushes before any reply that could overflow; reaching this is a bug, and the
            // connection is closed rather than the buffer grown.
            throw new InvalidOperationException($"Reply of {bytes} bytes does not fit the {Free} free bytes of the output buffer.");
        }
    }
}
