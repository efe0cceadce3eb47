using System.Buffers;
using System.Buffers.Text;

namespace TierKv.Server.Client;

/// <summary>
/// Reads replies (RESP2 and RESP3) from a pooled receive buffer, for both clients. Each reply is parsed once, by a
/// method that takes <c>async</c>: the asynchronous client's calls await the stream, the synchronous client's calls
/// read it blocking and complete synchronously, so neither allocates for that. Values are read past the buffer
/// straight into the caller's memory. Not thread-safe.
/// </summary>
internal sealed class RespReplyReader(Stream stream)
{
    private readonly Stream _stream = stream;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(RespRequestWriter.BufferBytes);
    private int _pos;
    private int _end;

    /// <summary>
    /// True from the first byte of a command sent until its reply is read in full: an exception in between leaves the
    /// stream at an unknown place. The sender sets it; each read clears it once its reply is consumed (an error reply included).
    /// </summary>
    public bool MidReply { get; set; }

    /// <summary>A simple-string reply; an error reply throws <see cref="TierKvServerException"/>.</summary>
    public void ReadSimple() => Completed(ReadSimpleAsync(async: false, default));

    /// <inheritdoc cref="ReadSimple"/>
    public ValueTask<bool> ReadSimpleAsync(CancellationToken cancellationToken) => ReadSimpleAsync(async: true, cancellationToken);

    /// <summary>An integer reply.</summary>
    public long ReadInteger() => Completed(ReadIntegerAsync(async: false, default));

    /// <inheritdoc cref="ReadInteger"/>
    public ValueTask<long> ReadIntegerAsync(CancellationToken cancellationToken) => ReadIntegerAsync(async: true, cancellationToken);

    /// <summary>An integer reply that counts something (the async client's; the sync client casts <see cref="ReadInteger"/>).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadCountAsync(CancellationToken cancellationToken) =>
        (int)await ReadIntegerAsync(async: true, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// A bulk string into <paramref name="destination"/>; returns its length, or -1 for null. A value larger than
    /// <paramref name="destination"/> is read past and throws <see cref="ArgumentException"/> (the stream stays in step).
    /// </summary>
    public int ReadBulkInto(Span<byte> destination)
    {
        int len = Completed(ReadBulkLengthAsync(destination.Length, async: false, default));
        ReadExactly(destination[..Math.Max(len, 0)]);
        return Completed(EndBulkAsync(len, async: false, default));
    }

    /// <inheritdoc cref="ReadBulkInto"/>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadBulkIntoAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        int len = await ReadBulkLengthAsync(destination.Length, async: true, cancellationToken).ConfigureAwait(false);
        await ReadExactlyAsync(destination[..Math.Max(len, 0)], cancellationToken).ConfigureAwait(false);
        return await EndBulkAsync(len, async: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The header of an array of <paramref name="expected"/> flags (the reply to KV.EXISTS); throws when the count differs.</summary>
    public int ReadFlagCount(int expected) => Completed(ReadFlagCountAsync(expected, async: false, default));

    /// <inheritdoc cref="ReadFlagCount"/>
    public ValueTask<int> ReadFlagCountAsync(int expected, CancellationToken cancellationToken) => ReadFlagCountAsync(expected, async: true, cancellationToken);

    /// <summary>One flag of such an array; <paramref name="last"/> says whether the array ends with it.</summary>
    public bool ReadFlag(bool last) => Completed(ReadFlagAsync(last, async: false, default));

    /// <inheritdoc cref="ReadFlag"/>
    public ValueTask<bool> ReadFlagAsync(bool last, CancellationToken cancellationToken) => ReadFlagAsync(last, async: true, cancellationToken);

    /// <summary>
    /// A whole reply of any kind: a string (simple, bulk, verbatim), a long (integer), an <c>object?[]</c> (array, set,
    /// push; a map is flattened into key, value, ...), or null. An error reply throws <see cref="TierKvServerException"/>;
    /// an error inside an array is returned as a <see cref="TierKvServerException"/> element.
    /// </summary>
    public object? ReadValue() => Completed(ReadValueAsync(async: false, default));

    /// <inheritdoc cref="ReadValue"/>
    public ValueTask<object?> ReadValueAsync(CancellationToken cancellationToken) => ReadValueAsync(async: true, cancellationToken);

    /// <summary>Returns the buffer to the pool.</summary>
    public void Release()
    {
        var old = _buffer;
        _buffer = [];
        _pos = 0;
        _end = 0;
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    // ---- one parser for both clients ----

    private static T Completed<T>(ValueTask<T> read)
    {
        Debug.Assert(read.IsCompleted, "A synchronous read completed asynchronously.");
        return read.GetAwaiter().GetResult();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadSimpleAsync(bool async, CancellationToken cancellationToken)
    {
        await EnsureLineAsync(async, cancellationToken).ConfigureAwait(false);
        var (s, l) = TakeLine();
        MidReply = false;
        if (_buffer[s] == (byte)'-')
        {
            throw new TierKvServerException(Encoding.UTF8.GetString(_buffer, s + 1, l - 1));
        }

        if (_buffer[s] != (byte)'+')
        {
            MidReply = true;
            throw Unexpected((byte)'+', s, l);
        }

        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<long> ReadIntegerAsync(bool async, CancellationToken cancellationToken)
    {
        await EnsureLineAsync(async, cancellationToken).ConfigureAwait(false);
        long n = ParseLength((byte)':');
        MidReply = false;
        return n;
    }

    /// <summary>A bulk string's length, -1 for null (the reply then is whole); a value larger than <paramref name="capacity"/> is skipped and throws.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadBulkLengthAsync(int capacity, bool async, CancellationToken cancellationToken)
    {
        await EnsureLineAsync(async, cancellationToken).ConfigureAwait(false);
        long len = ParseLength((byte)'$');
        if (len < 0)
        {
            MidReply = false;
            return -1;
        }

        if (len > capacity)
        {
            // Read past the value so the next reply is in step, then report the caller's mistake.
            await SkipAsync(len + 2, async, cancellationToken).ConfigureAwait(false);
            MidReply = false;
            throw new ArgumentException($"The value has {len} bytes but the destination holds {capacity}.", "destination");
        }

        return (int)len;
    }

    /// <summary>Takes the CRLF after a bulk string of <paramref name="len"/> bytes (none after a null) and returns <paramref name="len"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> EndBulkAsync(int len, bool async, CancellationToken cancellationToken)
    {
        if (len >= 0)
        {
            await EnsureLineAsync(async, cancellationToken).ConfigureAwait(false);
            TakeLine();
            MidReply = false;
        }

        return len;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadFlagCountAsync(int expected, bool async, CancellationToken cancellationToken)
    {
        await EnsureLineAsync(async, cancellationToken).ConfigureAwait(false);
        long n = ParseLength((byte)'*');
        if (n != expected)
        {
            throw new IOException($"KV.EXISTS of {expected} keys answered {n} flags.");
        }

        MidReply = n > 0;
        return (int)n;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadFlagAsync(bool last, bool async, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadIntegerAsync(async, cancellationToken).ConfigureAwait(false) == 1;
        }
        finally
        {
            // An error in place of a flag but the last leaves the rest of the array unread: the stream is out of step.
            MidReply |= !last;
        }
    }

    private async ValueTask<object?> ReadValueAsync(bool async, CancellationToken cancellationToken)
    {
        var value = await ReadElementAsync(async, cancellationToken).ConfigureAwait(false);
        MidReply = false;
        return value is TierKvServerException error ? throw error : value;
    }

    /// <summary>Reads one whole reply of any kind (errors come back as exception objects, not thrown).</summary>
    private async ValueTask<object?> ReadElementAsync(bool async, CancellationToken cancellationToken)
    {
        await EnsureLineAsync(async, cancellationToken).ConfigureAwait(false);
        var (s, l) = TakeLine();
        byte kind = _buffer[s];
        switch (kind)
        {
            case (byte)'+':
                return Encoding.UTF8.GetString(_buffer, s + 1, l - 1);
            case (byte)'-':
                return new TierKvServerException(Encoding.UTF8.GetString(_buffer, s + 1, l - 1));
            case (byte)':':
                return ParseNumber(s, l);
            case (byte)'_':
                return null;
            case (byte)'$':
            case (byte)'=':
            case (byte)'!':
                long len = ParseNumber(s, l);
                if (len < 0)
                {
                    return null;
                }

                var buf = new byte[len];
                if (async)
                {
                    await ReadExactlyAsync(buf, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    ReadExactly(buf);
                }

                await EnsureLineAsync(async, cancellationToken).ConfigureAwait(false);
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
                long count = ParseNumber(s, l);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[kind == (byte)'%' ? 2 * count : count];
                for (long k = 0; k < items.Length; k++)
                {
                    items[k] = await ReadElementAsync(async, cancellationToken).ConfigureAwait(false);
                }

                return items;
            default:
                // One-line RESP3 types (',' double, '#' boolean, '(' big number) come back as their text.
                return Encoding.UTF8.GetString(_buffer, s, l);
        }
    }

    /// <summary>Parses a header line; an error reply is consumed whole and thrown (the stream stays in step).</summary>
    private long ParseLength(byte expected)
    {
        var (s, l) = TakeLine();
        byte kind = _buffer[s];
        if (kind == (byte)'-')
        {
            MidReply = false;
            throw new TierKvServerException(Encoding.UTF8.GetString(_buffer, s + 1, l - 1));
        }

        if (kind == (byte)'_' && expected == (byte)'$')
        {
            return -1;
        }

        if (kind != expected && !(expected == (byte)'*' && kind == (byte)'%'))
        {
            throw Unexpected(expected, s, l);
        }

        long n = ParseNumber(s, l);
        return kind == (byte)'%' ? 2 * n : n;
    }

    private long ParseNumber(int start, int length)
    {
        Utf8Parser.TryParse(_buffer.AsSpan(start + 1, length - 1), out long n, out _);
        return n;
    }

    private IOException Unexpected(byte expected, int start, int length) =>
        new($"Expected a '{(char)expected}' reply, got '{Encoding.ASCII.GetString(_buffer, start, Math.Min(length, 64))}'.");

    // ---- the buffer and the stream ----

    /// <summary>Position of the next line's '\n' in the buffer, or -1 when it has not arrived yet.</summary>
    private int FindLineEnd()
    {
        int nl = _buffer.AsSpan(_pos, _end - _pos).IndexOf((byte)'\n');
        return nl >= 1 ? _pos + nl : -1;
    }

    /// <summary>Takes the buffered line (without CRLF); returns its bounds in the buffer.</summary>
    private (int Start, int Length) TakeLine()
    {
        int end = FindLineEnd();
        int start = _pos;
        _pos = end + 1;
        return (start, end - 1 - start);
    }

    /// <summary>Makes sure a whole line is buffered (one read when it has not arrived yet, rarely more).</summary>
    private ValueTask EnsureLineAsync(bool async, CancellationToken cancellationToken) =>
        FindLineEnd() >= 0 ? ValueTask.CompletedTask : EnsureLineSlowAsync(async, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EnsureLineSlowAsync(bool async, CancellationToken cancellationToken)
    {
        while (FindLineEnd() < 0)
        {
            if (_end - _pos >= _buffer.Length)
            {
                throw new IOException("A reply line is longer than the client's buffer.");
            }

            await FillAsync(async, cancellationToken).ConfigureAwait(false);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FillAsync(bool async, CancellationToken cancellationToken)
    {
        if (_pos == _end)
        {
            _pos = 0;
            _end = 0;
        }
        else if (_pos > 0)
        {
            Buffer.BlockCopy(_buffer, _pos, _buffer, 0, _end - _pos);
            _end -= _pos;
            _pos = 0;
        }

        int n = async
            ? await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false)
            : _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0)
        {
            throw new IOException("The server closed the connection.");
        }

        _end += n;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SkipAsync(long bytes, bool async, CancellationToken cancellationToken)
    {
        while (true)
        {
            long take = Math.Min(bytes, _end - _pos);
            _pos += (int)take;
            bytes -= take;
            if (bytes == 0)
            {
                return;
            }

            await FillAsync(async, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Fills <paramref name="destination"/>: what is buffered first, the rest from the stream straight into it.</summary>
    private void ReadExactly(Span<byte> destination)
    {
        for (int have = TakeBuffered(destination); have < destination.Length;)
        {
            have += Received(_stream.Read(destination[have..]));
        }
    }

    /// <inheritdoc cref="ReadExactly"/>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        for (int have = TakeBuffered(destination.Span); have < destination.Length;)
        {
            have += Received(await _stream.ReadAsync(destination[have..], cancellationToken).ConfigureAwait(false));
        }
    }

    private int TakeBuffered(Span<byte> destination)
    {
        int have = Math.Min(_end - _pos, destination.Length);
        _buffer.AsSpan(_pos, have).CopyTo(destination);
        _pos += have;
        return have;
    }

    private static int Received(int n) =>
        n > 0 ? n : throw new IOException("The server closed the connection in the middle of a value.");
}
