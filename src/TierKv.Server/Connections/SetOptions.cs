using System.Buffers.Text;

namespace TierKv.Server.Connections;

/// <summary>The options of <c>SET key value [NX | XX] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]</c>, parsed as Redis does.</summary>
internal readonly record struct SetOptions(long ExpiresAtMs, bool Nx, bool Xx, bool KeepTtl)
{
    /// <summary>The condition a commit checks under the key's lock.</summary>
    public SetCondition Condition => Nx ? SetCondition.IfAbsent : Xx ? SetCondition.IfPresent : SetCondition.Always;

    /// <summary>Parses the arguments after the value; null on success, else the error Redis gives.</summary>
    public static string? Parse(ReadOnlySpan<byte> src, ReadOnlySpan<ArgRange> options, long nowMs, out SetOptions result)
    {
        result = default;
        long expires = 0;
        bool nx = false, xx = false, keep = false, timed = false;
        for (int i = 0; i < options.Length; i++)
        {
            var o = src.Slice(options[i].Offset, options[i].Length);
            if (Ascii.EqualsIgnoreCase(o, "NX"u8) && !xx)
            {
                nx = true;
            }
            else if (Ascii.EqualsIgnoreCase(o, "XX"u8) && !nx)
            {
                xx = true;
            }
            else if (Ascii.EqualsIgnoreCase(o, "KEEPTTL"u8) && !timed)
            {
                keep = true;
            }
            else if (!keep && !timed && i + 1 < options.Length && TimeUnit(o) is long unit and not 0)
            {
                var v = src.Slice(options[i + 1].Offset, options[i + 1].Length);
                if (!Utf8Parser.TryParse(v, out long n, out int used) || used != v.Length)
                {
                    return Replies.NotInteger;
                }

                if (n <= 0 || n > long.MaxValue / 1000 / 2)
                {
                    return Replies.InvalidExpire("set");
                }

                // EX/PX are relative (unit 1000 / 1), EXAT/PXAT absolute (unit -1000 / -1).
                expires = unit > 0 ? nowMs + (n * unit) : n * -unit;
                timed = true;
                i++;
            }
            else
            {
                return Replies.Syntax;
            }
        }

        result = new SetOptions(expires, nx, xx, keep);
        return null;
    }

    private static long TimeUnit(ReadOnlySpan<byte> o) =>
        Ascii.EqualsIgnoreCase(o, "EX"u8) ? 1000
        : Ascii.EqualsIgnoreCase(o, "PX"u8) ? 1
        : Ascii.EqualsIgnoreCase(o, "EXAT"u8) ? -1000
        : Ascii.EqualsIgnoreCase(o, "PXAT"u8) ? -1
        : 0;
}
