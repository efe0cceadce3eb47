using System.Runtime.InteropServices;

namespace TierKv.Cuda.Checks;

/// <summary>Fast deterministic pseudo-random bytes (xorshift64*), so checks never run on zeros or on a pattern a wrong index could reproduce.</summary>
public static class TestPattern
{
    /// <summary>Fills <paramref name="destination"/> with bytes derived from <paramref name="seed"/>.</summary>
    public static void Fill(Span<byte> destination, ulong seed)
    {
        ulong x = seed * 0x9E3779B97F4A7C15UL | 1;
        var words = MemoryMarshal.Cast<byte, ulong>(destination);
        for (int i = 0; i < words.Length; i++)
        {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            words[i] = x * 0x2545F4914F6CDD1DUL;
        }

        for (int i = words.Length * 8; i < destination.Length; i++)
        {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            destination[i] = (byte)(x * 0x2545F4914F6CDD1DUL >> 56);
        }
    }

    /// <summary>A random page table: <paramref name="pages"/> distinct blocks out of <paramref name="numBlocks"/>, in random order.</summary>
    public static int[] PageTable(int pages, int numBlocks, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pages, numBlocks);
        var blocks = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++)
        {
            blocks[i] = i;
        }

        new Random(seed).Shuffle(blocks);
        return blocks[..pages];
    }

    /// <summary>Index of the first differing byte, or -1 when equal.</summary>
    public static long FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return Math.Min(a.Length, b.Length);
        }

        int i = a.CommonPrefixLength(b);
        return i == a.Length ? -1 : i;
    }
}
