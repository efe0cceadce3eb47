using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace TierKv.Curves;

/// <summary>
/// LRU's prefix-hit ratio at several sizes at once, exactly, from one pass (LRU's inclusion property: an LRU of size S
/// holds a key when at most S distinct keys were accessed since its last access, itself included). Every tracked key
/// keeps the time of its last access; a bitmap over time marks the times that are some key's last access, so the S
/// most recent keys are those whose time is at least a boundary: the time of the S-th set bit counted back from now.
/// Each access moves one bit, and each boundary at most a few bits forward (a boundary only moves towards now), so an
/// access costs O(sizes) word operations on memory that stays in cache (the boundaries sweep the bitmap in order) plus
/// one probe of the key table: a first version with a linked list cut into segments touched a cold node per size and
/// cost several times as much. A request's run of leading hits at size S continues while every key so far was within
/// S, so the run's level is the largest level seen along the chain. Keys beyond the largest size are forgotten, and so
/// is a key not accessed for <see cref="WindowPerSlot"/> times the largest size in accesses (the bitmap's span), which
/// then counts as a miss at every size: memory is fixed at construction. Not thread-safe.
/// </summary>
internal sealed class LruStackCurve
{
    /// <summary>Accesses the time bitmap spans, per tracked key.</summary>
    public const int WindowPerSlot = 16;

    private readonly int _levels;
    private readonly int[] _sizes;
    private readonly long[] _bound;
    private readonly long[] _runs;
    private readonly Cell[] _cells;
    private readonly int _cellMask;
    private readonly int[] _ring;
    private readonly ulong[] _live;
    private readonly long _windowMask;
    private readonly PrefixRuns _prefix = new();
    private int _count;
    private long _now;
    private long _accesses;

    /// <summary>Tracks sizes <paramref name="sizes"/> (ascending, at least 1).</summary>
    public LruStackCurve(IReadOnlyList<int> sizes)
    {
        _levels = sizes.Count;
        _sizes = [.. sizes];
        _bound = new long[_levels];
        _runs = new long[_levels + 1];
        int largest = _sizes[^1];
        // At most three quarters full: a 16-byte cell per key keeps the table small enough to stay in cache.
        int cells = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, (4L * (largest + 1) / 3) + 1));
        _cells = new Cell[cells];
        _cellMask = cells - 1;
        long window = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1024L, (long)WindowPerSlot * (largest + 1)));
        _ring = new int[window];
        _live = new ulong[window / 64];
        _windowMask = window - 1;
        MemoryBytes = (cells * (long)Unsafe.SizeOf<Cell>()) + (window * 4) + (window / 8) + PrefixRuns.MemoryBytes;
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

    /// <summary>One access of <paramref name="key"/> (parent null: the first chunk of a chain).</summary>
    public void Access(in ChunkKey key, ChunkKey? parent)
    {
        long now = ++_now;
        if (_count > 0 && now - _bound[_levels - 1] >= _windowMask)
        {
            ForgetOldest();
        }

        int level = _levels;
        ulong tag = Tag(key);
        int cell = Find(tag);
        if (cell >= 0)
        {
            long t = _cells[cell].Time;
            for (int j = 0; j < _levels; j++)
            {
                if (t >= _bound[j])
                {
                    level = j;
                    break;
                }
            }

            Clear(t);
            Set(now, cell);
            _cells[cell].Time = now;

            // Below its level the key joins the set and that set's oldest key leaves it; at or above, a boundary on
            // the key itself moves to the next key.
            for (int j = 0; j < _levels; j++)
            {
                if (j < level || _bound[j] == t)
                {
                    _bound[j] = NextLive(_bound[j]);
                }
            }
        }
        else
        {
            cell = Insert(tag, now);
            Set(now, cell);
            if (++_count == 1)
            {
                _bound.AsSpan().Fill(now);
            }
            else
            {
                for (int j = 0; j < _levels; j++)
                {
                    if (_count - 1 < _sizes[j])
                    {
                        continue;
                    }

                    long b = _bound[j];
                    _bound[j] = NextLive(b);
                    if (j == _levels - 1)
                    {
                        Remove(_ring[b & _windowMask]);
                        Clear(b);
                        _count--;
                        PrefetchOldest();
                    }
                }
            }
        }

        int run = parent is { } p ? Math.Max(level, _prefix.LevelOf(p, _levels)) : level;
        _prefix.Set(key, run);
        _runs[run]++;
        _accesses++;
    }

    /// <summary>The next key to forget is known now: its cell is fetched while the tier does its own work.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void PrefetchOldest()
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref _cells[_ring[_bound[_levels - 1] & _windowMask] & _cellMask]));
        }
    }

    /// <summary>The oldest key left the bitmap's span: it is forgotten (a miss at every size when it comes back).</summary>
    private void ForgetOldest()
    {
        long o = _bound[_levels - 1];
        Remove(_ring[o & _windowMask]);
        Clear(o);
        _count--;
        long next = _count == 0 ? _now : NextLive(o);
        for (int j = 0; j < _levels; j++)
        {
            if (_bound[j] == o)
            {
                _bound[j] = next;
            }
        }
    }

    /// <summary>The first time after <paramref name="t"/> that is some key's last access (now when there is none).</summary>
    private long NextLive(long t)
    {
        long now = _now;
        for (long s = t + 1; s <= now;)
        {
            ulong word = _live[(s & _windowMask) >> 6] >> (int)(s & 63);
            if (word != 0)
            {
                return Math.Min(now, s + BitOperations.TrailingZeroCount(word));
            }

            s = (s | 63) + 1;
        }

        return now;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Set(long t, int cell)
    {
        long i = t & _windowMask;
        _live[i >> 6] |= 1UL << (int)(i & 63);
        _ring[i] = cell;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Clear(long t)
    {
        long i = t & _windowMask;
        _live[i >> 6] &= ~(1UL << (int)(i & 63));
    }

    /// <summary>A 64-bit digest of a key: two keys share one with odds of 2^-64, which would merge them (an estimate may err so).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Tag(in ChunkKey key) => (key.Low ^ (key.High * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong tag) => (int)(tag >> 40) & _cellMask;

    private int Find(ulong tag)
    {
        for (int i = Home(tag); ; i = (i + 1) & _cellMask)
        {
            ref var c = ref _cells[i];
            if (c.Time == 0)
            {
                return -1;
            }

            if (c.Tag == tag)
            {
                return i;
            }
        }
    }

    private int Insert(ulong tag, long now)
    {
        int i = Home(tag);
        while (_cells[i].Time != 0)
        {
            i = (i + 1) & _cellMask;
        }

        _cells[i] = new Cell { Tag = tag, Time = now };
        return i;
    }

    /// <summary>Empties cell <paramref name="i"/> with backward shift (no tombstones), keeping the time ring pointing at moved cells.</summary>
    private void Remove(int i)
    {
        int j = i;
        while (true)
        {
            j = (j + 1) & _cellMask;
            ref var c = ref _cells[j];
            if (c.Time == 0)
            {
                break;
            }

            int home = Home(c.Tag);
            bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between)
            {
                _cells[i] = c;
                _ring[c.Time & _windowMask] = i;
                i = j;
            }
        }

        _cells[i] = default;
    }

    private struct Cell
    {
        public ulong Tag;
        public long Time;
    }
}
