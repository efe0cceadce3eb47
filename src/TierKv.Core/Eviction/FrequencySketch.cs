using System.Numerics;

namespace TierKv.Eviction;

/// <summary>
/// Approximate access counts of chunk keys, including keys no longer resident (a count-min sketch with two rows of
/// saturating byte counters and conservative update). Counts are halved after every <c>halveAfter</c> increments
/// (default <c>10 x width</c>) so that old popularity fades (the reset of TinyLFU). Fixed size, allocated once.
/// </summary>
internal sealed class FrequencySketch
{
    private readonly byte[] _counters;
    private readonly int _mask;
    private long _resetAfter;
    private long _increments;

    public FrequencySketch(int width, long halveAfter = 0)
    {
        int w = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1024, width));
        _counters = new byte[w * 2];
        _mask = w - 1;
        _resetAfter = halveAfter > 0 ? halveAfter : 10L * w;
    }

    /// <summary>Increments between halvings (a policy resized to its tier's limit halves as often as one built for it).</summary>
    public long HalveAfter
    {
        get => _resetAfter;
        set => _resetAfter = Math.Max(1, value);
    }

    /// <summary>Estimated number of recorded accesses of <paramref name="key"/>.</summary>
    public int Estimate(in ChunkKey key)
    {
        Index(key, out int a, out int b);
        return Math.Min(_counters[a], _counters[b]);
    }

    /// <summary>Records one access and returns the estimate before it.</summary>
    public int Increment(in ChunkKey key)
    {
        Index(key, out int a, out int b);
        int ca = _counters[a], cb = _counters[b];
        int min = Math.Min(ca, cb);
        if (min < byte.MaxValue)
        {
            if (ca == min)
            {
                _counters[a]++;
            }

            if (cb == min)
            {
                _counters[b]++;
            }
        }

        if (++_increments >= _resetAfter)
        {
            _increments = 0;
            for (int i = 0; i < _counters.Length; i++)
            {
                _counters[i] >>= 1;
            }
        }

        return min;
    }

    private void Index(in ChunkKey key, out int a, out int b)
    {
        ulong h = (key.Low ^ (key.High * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;
        h ^= h >> 31;
        h *= 0x94D049BB133111EBUL;
        a = (int)(h & (uint)_mask);
        b = (int)((h >> 32) & (uint)_mask) + _mask + 1;
    }
}
