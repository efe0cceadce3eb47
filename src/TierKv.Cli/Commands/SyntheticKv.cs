using System.IO.Hashing;

namespace TierKv.Cli.Commands;

/// <summary>Synthetic KV: the payload of a chunk is a pure function of its key, so a reader can check every byte.</summary>
internal static class SyntheticKv
{
    public static void Fill(ChunkKey key, Span<byte> destination)
    {
        // A cheap deterministic stream: 8-byte words derived from the key and the position.
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(destination);
        ulong x = key.Low ^ 0x9E3779B97F4A7C15UL, y = key.High | 1;
        for (int i = 0; i < words.Length; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words[i] = x + (y * (ulong)i);
        }

        for (int i = words.Length * 8; i < destination.Length; i++)
        {
            destination[i] = (byte)(key.Low >> (i % 8));
        }
    }

    public static bool Matches(ChunkKey key, ReadOnlySpan<byte> payload)
    {
        Span<byte> expected = payload.Length <= 1 << 16 ? stackalloc byte[payload.Length] : new byte[payload.Length];
        Fill(key, expected);
        return XxHash3.HashToUInt64(expected) == XxHash3.HashToUInt64(payload) && expected.SequenceEqual(payload);
    }
}
