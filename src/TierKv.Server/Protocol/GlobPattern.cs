namespace TierKv.Server.Protocol;

/// <summary>Redis's glob matching for SCAN MATCH and KEYS: <c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[^a]</c>, <c>[a-z]</c> and <c>\</c> escapes, on bytes.</summary>
internal static class GlobPattern
{
    public static bool IsMatch(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text)
    {
        int p = 0, t = 0, starP = -1, starT = -1;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == (byte)'*')
            {
                while (p < pattern.Length && pattern[p] == (byte)'*')
                {
                    p++;
                }

                if (p == pattern.Length)
                {
                    return true;
                }

                starP = p;
                starT = t;
                continue;
            }

            if (p < pattern.Length && MatchOne(pattern, ref p, text[t]))
            {
                t++;
                continue;
            }

            if (starP < 0)
            {
                return false;
            }

            // Backtrack: let the last '*' swallow one more byte.
            p = starP;
            t = ++starT;
        }

        while (p < pattern.Length && pattern[p] == (byte)'*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Matches one pattern element at <paramref name="p"/> against <paramref name="c"/>, advancing past it when it matches.</summary>
    private static bool MatchOne(ReadOnlySpan<byte> pattern, ref int p, byte c)
    {
        byte head = pattern[p];
        if (head == (byte)'?')
        {
            p++;
            return true;
        }

        if (head == (byte)'\\' && p + 1 < pattern.Length)
        {
            if (pattern[p + 1] != c)
            {
                return false;
            }

            p += 2;
            return true;
        }

        if (head == (byte)'[')
        {
            int i = p + 1;
            bool not = i < pattern.Length && pattern[i] == (byte)'^';
            if (not)
            {
                i++;
            }

            bool match = false;
            while (i < pattern.Length && pattern[i] != (byte)']')
            {
                if (pattern[i] == (byte)'\\' && i + 1 < pattern.Length)
                {
                    match |= pattern[i + 1] == c;
                    i += 2;
                }
                else if (i + 2 < pattern.Length && pattern[i + 1] == (byte)'-' && pattern[i + 2] != (byte)']')
                {
                    byte lo = Math.Min(pattern[i], pattern[i + 2]);
                    byte hi = Math.Max(pattern[i], pattern[i + 2]);
                    match |= c >= lo && c <= hi;
                    i += 3;
                }
                else
                {
                    match |= pattern[i] == c;
                    i++;
                }
            }

            if (not)
            {
                match = !match;
            }

            if (!match)
            {
                return false;
            }

            p = i < pattern.Length ? i + 1 : i;
            return true;
        }

        if (head != c)
        {
            return false;
        }

        p++;
        return true;
    }
}
