using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace TierKv.Curves;

/// <summary>
/// LRU's prefix-hit ratio at several sizes at once, exactly, from one pass (LRU's inclusion property: an LRU of size S
/// holds a key when at most S distinct keys were accessed since its last access, itself included). Every tracked key
/// keeps the time of its last access; a bitmap over time marks the times that are some key's last access, so the S
/// most recent keys are those whose time is at least a boundary: the time of the S-th set bit counted back from now.
/// Each access moves one bit, and each boundary only forward, a few bits at a time, so an access costs O(sizes) word
/// operations on memory the boundaries sweep in order, plus one probe of an 8-byte-per-key table. (A first version with
/// a linked list cut into segments touched a cold node per size and cost several times as much.) When time reaches the
/// end of the bitmap, the live times are renumbered from 0 in order (amortised O(1): the bitmap spans four times the
/// keys). A request's run of leading hits at size S continues while every key so far was within S, so the run's level
/// is the largest level seen along the chain. Keys beyond the largest size are forgotten: memory is fixed at
/// construction. Not thread-safe.
/// </summary>
internal sealed class LruStackCurve
{
    /// <summary>Most keys one curve tracks: times are 24 bits in a key's cell, and the bitmap spans four times the keys.</summary>
    public const int MaxKeys = 1 << 21;

    /// <summary>Accesses simulated together (<see cref="Access"/>).</summary>
    public const int Batch = 32;

    private const int TimeBits = 24;
    private const ulong TimeMask = (1UL << TimeBits) - 1;

    private readonly int _levels;
    private readonly int[] _sizes;
    private readonly int[] _bound;
    private readonly int[] _newBound;
    private readonly long[] _runs;
    private readonly ulong[] _cells;
    private readonly int _cellMask;
    private readonly int[] _ring;
    private readonly ulong[] _live;
    private readonly PrefixRuns _prefix = new();
    private readonly ChunkKey[] _batchKeys = new ChunkKey[Batch];
    private readonly ulong[] _batchTags = new ulong[Batch];
    private readonly ChunkKey[] _batchParents = new ChunkKey[Batch];
    private readonly bool[] _batchHasParent = new bool[Batch];
    private int _batched;
    private int _count;
    private int _now = -1;
    private long _accesses;

    /// <summary>Tracks sizes <paramref name="sizes"/> (ascending, at least 1, the largest at most <see cref="MaxKeys"/>).</summary>
    public LruStackCurve(IReadOnlyList<int> sizes)
    {
        _levels = sizes.Count;
        _sizes = [.. sizes];
        _bound = new int[_levels];
        _newBound = new int[_levels];
        _runs = new long[_levels + 1];
        int largest = _sizes[^1];
        ArgumentOutOfRangeException.ThrowIfGreaterThan(largest, MaxKeys, nameof(sizes));

        // At most three quarters full.
        int cells = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, (4L * (largest + 1) / 3) + 1));
        _cells = new ulong[cells];
        _cellMask = cells - 1;
        int window = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(64, 4 * (largest + 1)));
        _ring = new int[window];
        _live = new ulong[window / 64];
        MemoryBytes = (cells * 8L) + (window * 4L) + (window / 8) + PrefixRuns.MemoryBytes;
    }

    /// <summary>Bytes held (fixed).</summary>
    public long MemoryBytes { get; }

    /// <summary>Accesses simulated.</summary>
    public long Accesses => Volatile.Read(ref _accesses);

    /// <summary>Prefix hits an LRU of the <paramref name="level"/>-th size would have had.</summary>
    public long Hits(int level)
    {
        long sum = 0;
        for (int j = 0; j <= level; j++)
        {
            sum += Volatile.Read(ref _runs[j]);
        }

        return sum;
    }

    /// <summary>
    /// One access of <paramref name="key"/> (parent null: the first chunk of a chain). Accesses are simulated in
    /// batches of <see cref="Batch"/>: the table cells of a whole batch are fetched from memory at once, so their cache
    /// misses overlap instead of each stalling one access (the tier's own work between two accesses evicts this table
    /// from the caches). The counters lag the tier by less than a batch until <see cref="Drain"/>.
    /// </summary>
    public void Access(in ChunkKey key, ChunkKey? parent)
    {
        int n = _batched;
        _batchKeys[n] = key;
        _batchTags[n] = Tag(key);
        _batchHasParent[n] = parent.HasValue;
        _batchParents[n] = parent.GetValueOrDefault();
        if ((_batched = n + 1) == Batch)
        {
            Drain();
        }
    }

    /// <summary>Simulates the accesses of the batch so far.</summary>
    public unsafe void Drain()
    {
        int n = _batched;
        _batched = 0;
        if (Sse.IsSupported)
        {
            for (int i = 0; i < n; i++)
            {
                Sse.Prefetch0(Unsafe.AsPointer(ref _cells[Home(_batchTags[i])]));
            }
        }

        for (int i = 0; i < n; i++)
        {
            Step(_batchKeys[i], _batchTags[i], _batchHasParent[i], _batchParents[i]);
        }
    }

    // The hot path indexes its arrays through references: every index is in range by construction (levels index
    // _bound and _sizes of _levels entries; times are below the ring's length, which the bitmap covers; cells are masked).
    private void Step(in ChunkKey key, ulong tag, bool hasParent, in ChunkKey parent)
    {
        if (_now + 1 == _ring.Length)
        {
            Renumber();
        }

        int now = ++_now;
        int levels = _levels;
        int level = levels;
        ref int bound = ref MemoryMarshal.GetArrayDataReference(_bound);
        int cell = Find(tag);
        if (cell >= 0)
        {
            int t = TimeOf(cell);
            for (int j = 0; j < levels; j++)
            {
                if (t >= Unsafe.Add(ref bound, j))
                {
                    level = j;
                    break;
                }
            }

            Clear(t);
            Set(now, cell);
            Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_cells), cell) = tag | (uint)(now + 1);

            // Below its level the key joins the set and that set's oldest key leaves it; at or above, a boundary on
            // the key itself moves to the next key.
            for (int j = 0; j < levels; j++)
            {
                ref int b = ref Unsafe.Add(ref bound, j);
                if (j < level || b == t)
                {
                    b = NextLive(b, now);
                }
            }
        }
        else
        {
            cell = ~cell;
            Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_cells), cell) = tag | (uint)(now + 1);
            Set(now, cell);
            if (++_count == 1)
            {
                _bound.AsSpan().Fill(now);
            }
            else
            {
                ref int size = ref MemoryMarshal.GetArrayDataReference(_sizes);
                int before = _count - 1;
                for (int j = 0; j < levels; j++)
                {
                    if (before < Unsafe.Add(ref size, j))
                    {
                        continue;
                    }

                    ref int bj = ref Unsafe.Add(ref bound, j);
                    int b = bj;
                    bj = NextLive(b, now);
                    if (j == levels - 1)
                    {
                        // The oldest key of all leaves the largest size: it is forgotten.
                        Remove(Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_ring), b));
                        Clear(b);
                        _count--;
                        PrefetchOldest();
                    }
                }
            }
        }

        int run = hasParent ? Math.Max(level, _prefix.LevelOf(parent, levels)) : level;
        _prefix.Set(key, run);
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_runs), run)++;
        _accesses++;
    }

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
                int cell = _ring[t];
                _ring[w] = cell;
                _cells[cell] = (_cells[cell] & ~TimeMask) | (uint)(w + 1);
                for (int j = 0; j < _levels; j++)
                {
                    if (_bound[j] == t)
                    {
                        _newBound[j] = w;
                    }
                }

                w++;
            }
        }

        Debug.Assert(w == _count, "every tracked key has one live time");
        _live.AsSpan(0, words).Clear();
        for (int t = 0; t < w; t++)
        {
            _live[t >> 6] |= 1UL << (t & 63);
        }

        _newBound.CopyTo(_bound, 0);
        _now = w - 1;
    }

    /// <summary>The next key to forget is known now: its cell is fetched while the tier does its own work.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void PrefetchOldest()
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref _cells[_ring[_bound[_levels - 1]] & _cellMask]));
        }
    }

    /// <summary>The first time after <paramref name="t"/> that is some key's last access (<paramref name="now"/> when there is none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int NextLive(int t, int now)
    {
        ref ulong live = ref MemoryMarshal.GetArrayDataReference(_live);
        for (int s = t + 1; s <= now;)
        {
            ulong word = Unsafe.Add(ref live, s >> 6) >> (s & 63);
            if (word != 0)
            {
                return Math.Min(now, s + BitOperations.TrailingZeroCount(word));
            }

            s = (s | 63) + 1;
        }

        return now;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Set(int t, int cell)
    {
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_live), t >> 6) |= 1UL << (t & 63);
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_ring), t) = cell;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Clear(int t) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_live), t >> 6) &= ~(1UL << (t & 63));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int TimeOf(int cell) => (int)(Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_cells), cell) & TimeMask) - 1;

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
                Unsafe.Add(ref ring, (int)(c & TimeMask) - 1) = i;
                i = j;
            }
        }

        Unsafe.Add(ref cells, i) = 0;
    }
}
