using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TierKv.Curves;

/// <summary>The key table of <see cref="LruStackCurve"/>: open addressing, one 8-byte cell per tracked key (a digest and its last access time).</summary>
internal sealed partial class LruStackCurve
{
    private const int TimeBits = 24;
    private const ulong TimeMask = (1UL << TimeBits) - 1;

    private readonly ulong[] _cells;
    private readonly int _cellMask;

    /// <summary>
    /// A 40-bit digest of a key in the high bits of a cell (the low 24 hold its time + 1, so 0 is an empty cell). Two
    /// tracked keys share a digest with odds of about 2^-40 per probe, which would merge them: an estimate may err so.
    /// The halves are combined by a multiply-add and then mixed (SplitMix64's finalizer): a XOR of the low half with
    /// the multiplied high half left keys whose halves are both made from one counter (test and trace keys) a fourth
    /// of them sharing digests.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Tag(in ChunkKey key)
    {
        ulong z = key.Low + (key.High * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (z ^ (z >> 31)) & ~TimeMask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong tag) => (int)(tag >> 40) & _cellMask;

    /// <summary>The cell of <paramref name="tag"/>, or the complement (negative) of the empty cell where it would go.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Find(ulong tag)
    {
        ref ulong cells = ref MemoryMarshal.GetArrayDataReference(_cells);
        int mask = _cellMask;
        for (int i = Home(tag); ; i = (i + 1) & mask)
        {
            ulong c = Unsafe.Add(ref cells, i);
            if (c == 0)
            {
                return ~i;
            }

            if ((c & ~TimeMask) == tag)
            {
                return i;
            }
        }
    }

    /// <summary>Empties cell <paramref name="i"/> with backward shift (no tombstones), keeping the time ring pointing at moved cells.</summary>
    private void Remove(int i)
    {
        ref ulong cells = ref MemoryMarshal.GetArrayDataReference(_cells);
        ref int ring = ref MemoryMarshal.GetArrayDataReference(_ring);
        int mask = _cellMask;
        int j = i;
        while (true)
        {
            j = (j + 1) & mask;
            ulong c = Unsafe.Add(ref cells, j);
            if (c == 0)
            {
                break;
            }

            int home = Home(c & ~TimeMask);
            bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between)
            {
                Unsafe.Add(ref cells, i) = c;
                ref int entry = ref Unsafe.Add(ref ring, (int)(c & TimeMask) - 1);
                entry = (entry & ~CellBits) | i;
                i = j;
            }
        }

        Unsafe.Add(ref cells, i) = 0;
    }
}
