using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TierKv.Curves;

/// <summary>The time bitmap and ring of <see cref="LruStackCurve"/>: which times are some key's last access, and whose.</summary>
internal sealed partial class LruStackCurve
{
    private readonly int[] _ring;
    private readonly ulong[] _live;

    /// <summary>Gives the live times the numbers 0, 1, ... in order (the ring is rewritten in place: a new time is never after the old).</summary>
    private void Renumber()
    {
        int w = 0;
        int words = (_now >> 6) + 1;
        for (int i = 0; i < words; i++)
        {
            ulong bits = _live[i];
            while (bits != 0)
            {
                int t = (i << 6) + BitOperations.TrailingZeroCount(bits);
                bits &= bits - 1;
                int entry = _ring[t];
                int cell = entry & CellBits;
                _ring[w] = entry;
                _cells[cell] = (_cells[cell] & ~TimeMask) | (uint)(w + 1);
                w++;
            }
        }

        Debug.Assert(w == _count, "every tracked key has one live time");
        _live.AsSpan(0, words).Clear();
        for (int t = 0; t < w; t++)
        {
            _live[t >> 6] |= 1UL << (t & 63);
        }

        // Times are dense now: a size's boundary is the time count - size, with as many live times before it.
        for (int j = 0; j < _levels; j++)
        {
            _anchor[j] = Math.Max(0, w - _sizes[j]);
            _before[j] = _anchor[j] + _forgotten;
        }

        _oldest = 0;
        _now = w - 1;
    }

    /// <summary>The first time after <paramref name="t"/> that is some key's last access (there is one: the current access).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int NextLive(int t)
    {
        ref ulong live = ref MemoryMarshal.GetArrayDataReference(_live);
        int s = t + 1;
        ulong word = Unsafe.Add(ref live, s >> 6) >> s;
        while (word == 0)
        {
            s = (s | 63) + 1;
            word = Unsafe.Add(ref live, s >> 6);
        }

        return s + BitOperations.TrailingZeroCount(word);
    }

    /// <summary>The live time that has <paramref name="skip"/> live times from <paramref name="from"/> (inclusive) before it (there is one).</summary>
    private int Select(int from, int skip)
    {
        ref ulong live = ref MemoryMarshal.GetArrayDataReference(_live);
        int w = from >> 6;
        ulong bits = Unsafe.Add(ref live, w) & (ulong.MaxValue << from);
        int c;
        while (skip >= (c = BitOperations.PopCount(bits)))
        {
            skip -= c;
            bits = Unsafe.Add(ref live, ++w);
        }

        // The skip-th set bit of the word: halve the word by population count, then step over the last few bits.
        int at = w << 6;
        if (skip >= (c = BitOperations.PopCount((uint)bits)))
        {
            skip -= c;
            bits >>= 32;
            at += 32;
        }

        if (skip >= (c = BitOperations.PopCount(bits & 0xFFFF)))
        {
            skip -= c;
            bits >>= 16;
            at += 16;
        }

        for (; skip > 0; skip--)
        {
            bits &= bits - 1;
        }

        return at + BitOperations.TrailingZeroCount(bits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Clear(int t) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_live), t >> 6) &= ~(1UL << t);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int TimeOf(int cell) => (int)(Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_cells), cell) & TimeMask) - 1;
}
