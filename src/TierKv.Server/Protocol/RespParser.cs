using System.Buffers.Text;

namespace TierKv.Server.Protocol;

/// <summary>
/// Parses one client command (a RESP array of bulk strings, or an inline command) from the front of a span, without
/// allocating. It never trusts a length: every count is checked against <see cref="FrameLimits"/> before it is used,
/// and an error is reported only when the bytes present contradict the grammar, never because input is cut short.
/// </summary>
internal static class RespParser
{
    /// <summary>Longest "*n" or "$n" header line accepted (a 64-bit count and CRLF fit easily).</summary>
    private const int MaxHeaderLine = 32;

    /// <summary>
    /// Parses a command. On <see cref="ParseStatus.Complete"/>, <paramref name="consumed"/> bytes form the command and
    /// <paramref name="args"/>[0..<paramref name="argc"/>) locate its arguments. On <see cref="ParseStatus.LargeTail"/>,
    /// the last argument (of <paramref name="tailLength"/> bytes, then CRLF) starts right after the consumed bytes.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> input, in FrameLimits limits, Span<ArgRange> args, out int argc, out int consumed, out long tailLength, out string? error) =>
        TryParse(input, limits, args, out argc, out consumed, out tailLength, out _, out error, innerLarge: false);

    /// <summary>
    /// As above, but a large argument need not be the last (<c>SET key value EX 60</c>): on
    /// <see cref="ParseStatus.LargeTail"/>, <paramref name="tailIndex"/> says which argument is streamed; the
    /// <c>argc - tailIndex - 1</c> arguments after it follow its CRLF and are read with <see cref="TryParseBulks"/>.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> input, in FrameLimits limits, Span<ArgRange> args, out int argc, out int consumed, out long tailLength, out int tailIndex, out string? error, bool innerLarge = true)
    {
        tailIndex = -1;
        argc = 0;
        consumed = 0;
        tailLength = 0;
        error = null;
        if (input.IsEmpty)
        {
            return ParseStatus.Incomplete;
        }

        return input[0] == (byte)'*'
            ? ParseArray(input, limits, args, out argc, out consumed, out tailLength, out tailIndex, out error, innerLarge)
            : ParseInline(input, limits, args, out argc, out consumed, out error);
    }

    /// <summary>
    /// Parses <paramref name="count"/> bulk strings (the arguments after a streamed one) into
    /// <paramref name="args"/>[0..count), each at most <see cref="FrameLimits.LargeArgBytes"/>.
    /// </summary>
    public static ParseStatus TryParseBulks(ReadOnlySpan<byte> input, int count, in FrameLimits limits, Span<ArgRange> args, out int consumed, out string? error)
    {
        consumed = 0;
        error = null;
        int pos = 0;
        for (int i = 0; i < count; i++)
        {
            if (pos >= input.Length)
            {
                return ParseStatus.Incomplete;
            }

            if (input[pos] != (byte)'$')
            {
                error = $"ERR Protocol error: expected '$', got '{Printable(input[pos])}'";
                return ParseStatus.Error;
            }

            var s = ReadHeader(input, pos, out long len, out int next, out _);
            if (s == ParseStatus.Incomplete)
            {
                return s;
            }

            if (s == ParseStatus.Error || len < 0 || len > limits.LargeArgBytes)
            {
                error = len > limits.LargeArgBytes ? $"ERR argument of {len} bytes after a value; at most one argument may exceed {limits.LargeArgBytes}" : "ERR Protocol error: invalid bulk length";
                return ParseStatus.Error;
            }

            long end = next + len + 2;
            if (end > input.Length)
            {
                return ParseStatus.Incomplete;
            }

            if (input[(int)(next + len)] != (byte)'\r' || input[(int)(next + len + 1)] != (byte)'\n')
            {
                error = "ERR Protocol error: bulk string not terminated by CRLF";
                return ParseStatus.Error;
            }

            args[i] = new ArgRange(next, (int)len);
            pos = (int)end;
        }

        consumed = pos;
        return ParseStatus.Complete;
    }

    private static ParseStatus ParseArray(ReadOnlySpan<byte> input, in FrameLimits limits, Span<ArgRange> args, out int argc, out int consumed, out long tailLength, out int tailIndex, out string? error, bool innerLarge)
    {
        tailIndex = -1;
        argc = 0;
        consumed = 0;
        tailLength = 0;
        var s = ReadHeader(input, 0, out long n, out int pos, out error);
        if (s != ParseStatus.Complete)
        {
            error ??= s == ParseStatus.Error ? "ERR Protocol error: invalid multibulk length" : null;
            return s;
        }

        if (n <= 0)
        {
            // "*0" and "*-1" carry no command; Redis ignores them too.
            consumed = pos;
            return ParseStatus.Complete;
        }

        if (n > limits.MaxArrayLength || n > args.Length)
        {
            error = $"ERR Protocol error: {n} arguments exceed the limit of {Math.Min(limits.MaxArrayLength, args.Length)}";
            return ParseStatus.Error;
        }

        for (int i = 0; i < n; i++)
        {
            if (pos >= input.Length)
            {
                return Incomplete(pos, limits, out error);
            }

            if (input[pos] != (byte)'$')
            {
                error = $"ERR Protocol error: expected '$', got '{Printable(input[pos])}'";
                return ParseStatus.Error;
            }

            s = ReadHeader(input, pos, out long len, out int next, out _);
            if (s == ParseStatus.Incomplete)
            {
                return Incomplete(pos, limits, out error);
            }

            if (s == ParseStatus.Error || len < 0 || len > limits.MaxBulkBytes)
            {
                error = len > limits.MaxBulkBytes ? $"ERR Protocol error: bulk of {len} bytes exceeds the limit of {limits.MaxBulkBytes}" : "ERR Protocol error: invalid bulk length";
                return ParseStatus.Error;
            }

            pos = next;
            if (len > limits.LargeArgBytes)
            {
                if (i != n - 1 && !innerLarge)
                {
                    error = $"ERR argument {i + 1} has {len} bytes; only a command's last argument (the value) may exceed {limits.LargeArgBytes}";
                    return ParseStatus.Error;
                }

                args[i] = new ArgRange(-1, 0);
                tailIndex = i;
                argc = (int)n;
                consumed = pos;
                tailLength = len;
                return ParseStatus.LargeTail;
            }

            long end = pos + len + 2;
            if (end > limits.MaxCommandBytes)
            {
                error = $"ERR Protocol error: command exceeds {limits.MaxCommandBytes} bytes";
                return ParseStatus.Error;
            }

            if (end > input.Length)
            {
                return Incomplete(pos, limits, out error);
            }

            if (input[(int)(pos + len)] != (byte)'\r' || input[(int)(pos + len + 1)] != (byte)'\n')
            {
                error = "ERR Protocol error: bulk string not terminated by CRLF";
                return ParseStatus.Error;
            }

            args[i] = new ArgRange(pos, (int)len);
            pos = (int)end;
        }

        argc = (int)n;
        consumed = pos;
        return ParseStatus.Complete;
    }

    private static ParseStatus ParseInline(ReadOnlySpan<byte> input, in FrameLimits limits, Span<ArgRange> args, out int argc, out int consumed, out string? error)
    {
        argc = 0;
        consumed = 0;
        error = null;
        int scan = Math.Min(input.Length, limits.MaxLineBytes);
        int nl = input[..scan].IndexOf((byte)'\n');
        if (nl < 0)
        {
            if (input.Length >= limits.MaxLineBytes)
            {
                error = $"ERR Protocol error: inline command longer than {limits.MaxLineBytes} bytes";
                return ParseStatus.Error;
            }

            return ParseStatus.Incomplete;
        }

        var line = input[..nl];
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && (line[i] == (byte)' ' || line[i] == (byte)'\t'))
            {
                i++;
            }

            if (i >= line.Length)
            {
                break;
            }

            int start = i;
            while (i < line.Length && line[i] != (byte)' ' && line[i] != (byte)'\t')
            {
                i++;
            }

            if (argc >= limits.MaxArrayLength || argc >= args.Length)
            {
                error = "ERR Protocol error: too many arguments in an inline command";
                return ParseStatus.Error;
            }

            args[argc++] = new ArgRange(start, i - start);
        }

        consumed = nl + 1;
        return ParseStatus.Complete;
    }

    /// <summary>Reads a "<c>Xnnn\r\n</c>" line at <paramref name="at"/> (X is '*' or '$').</summary>
    private static ParseStatus ReadHeader(ReadOnlySpan<byte> input, int at, out long value, out int next, out string? error)
    {
        value = 0;
        next = at;
        error = null;
        int avail = Math.Min(input.Length - at, MaxHeaderLine);
        int nl = input.Slice(at, avail).IndexOf((byte)'\n');
        if (nl < 0)
        {
            return avail >= MaxHeaderLine ? ParseStatus.Error : ParseStatus.Incomplete;
        }

        if (nl < 3 || input[at + nl - 1] != (byte)'\r')
        {
            return ParseStatus.Error;
        }

        var digits = input.Slice(at + 1, nl - 2);
        if (!Utf8Parser.TryParse(digits, out value, out int used) || used != digits.Length || (digits[0] == (byte)'+'))
        {
            return ParseStatus.Error;
        }

        next = at + nl + 1;
        return ParseStatus.Complete;
    }

    private static ParseStatus Incomplete(int pos, in FrameLimits limits, out string? error)
    {
        error = null;
        if (pos >= limits.MaxCommandBytes)
        {
            error = $"ERR Protocol error: command exceeds {limits.MaxCommandBytes} bytes";
            return ParseStatus.Error;
        }

        return ParseStatus.Incomplete;
    }

    private static string Printable(byte b) => b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}";
}
