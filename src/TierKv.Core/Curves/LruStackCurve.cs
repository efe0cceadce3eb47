using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace TierKv.Curves;

/// <summary>
/// LRU's prefix-hit ratio at several sizes at once, exactly, from one pass (LRU's inclusion property: an LRU of size S
/// holds a key when at most S distinct keys were accessed since its last access, itself included). Every tracked key
/// keeps the time of its last access; a bitmap over time marks the times that are some key's last access, so the S
/// most recent keys are those whose time is at least a boundary: the live time with count - S live times before it.
/// </summary>
/// <remarks>
/// <para>
/// Boundaries are found lazily. Each size keeps an anchor: a time at or before its boundary, and how many live times
/// lie before the anchor. An access moves one bit; a hit below a size's anchor lowers that size's count by one, and a
/// forgotten key (the oldest) lowers every count at once through one shared counter. Only when a hit lands at or after
/// an anchor is that boundary needed exactly: the anchor then skips the live times between it and the boundary a
/// bitmap word at a time (population counts). So an access costs one probe of an 8-byte-per-key table, a few word
/// operations, and a decrement per size below the hit's size; a first version moved every size's boundary one live
/// time per access (with its other costs, about 610 instructions an access against 300 now, counted with cachegrind
/// on a NativeAOT build: docs/operations.md), and one before it, a linked list cut into segments, touched a cold node
/// per size.
/// </para>
/// <para>
/// When time reaches the end of the bitmap, the live times are renumbered from 0 in order (amortised O(1): the bitmap
/// spans four times the keys). A request's run of leading hits at size S continues while every key so far was within
/// S, so the run's level is the largest level seen along the chain; the parent's run is the previous access's (a
/// request's chunks come in order) or, for a parent accessed earlier, the one recorded with its last access in the time
/// ring (unknown, a miss at every size, once the parent is forgotten). Keys beyond the largest size are forgotten:
/// memory is fixed at construction. Not thread-safe.
/// </para>
/// </remarks>
internal sealed partial class LruStackCurve
{
    /// <summary>Most keys one curve tracks: times are 24 bits in a key's cell, and the bitmap spans four times the keys.</summary>
    public const int MaxKeys = 1 << 21;

    /// <summary>Accesses simulated together (<see cref="Access"/>).</summary>
    public const int Batch = 32;

    // A ring entry holds the cell of the key accessed at that time and, above it, that access's run level.
    private const int RunShift = 24;
    private const int CellBits = (1 << RunShift) - 1;

    // How an access's run continues (Pending.Link): a root starts one, a key whose parent was the access just before
    // continues that access's run, any other parent's run is looked up by its tag (Link is the tag | LookedUp).
    private const ulong Root = 0;
    private const ulong AfterPrevious = 1;
    private const ulong LookedUp = 2;

    private readonly int _levels;
    private readonly int _largest;
    private readonly int[] _sizes;
    private readonly int[] _anchor;
    private readonly long[] _before;
    private readonly long[] _runs;
    private readonly Pending[] _batch = new Pending[Batch];
    // Before the first access: a key no parent is tracked as, whose run is a miss at every size (what looking up an
    // untracked parent gives), so a parent equal to it needs no special case.
    private ChunkKey _previous;
    private int _previousRun;
    private int _batched;
    private int _count;
    private int _now = -1;
    private int _oldest;
    private long _forgotten;

    /// <summary>Tracks sizes <paramref name="sizes"/> (ascending, at least 1, the largest at most <see cref="MaxKeys"/>).</summary>
    public LruStackCurve(IReadOnlyList<int> sizes)
    {
        _levels = sizes.Count;
        _sizes = [.. sizes];
        _anchor = new int[_levels];
        _before = new long[_levels];
        _runs = new long[_levels + 1];
        _previousRun = _levels;
        _largest = _sizes[^1];
        ArgumentOutOfRangeException.ThrowIfGreaterThan(_largest, MaxKeys, nameof(sizes));

        // At most three eighths full: a miss probes about 1.7 cells and a removal shifts about as many (at three
        // quarters, 6.6 of each cost 86 instructions an access more, counted with cachegrind on the conversation trace).
        int cells = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, (8L * (_largest + 1) / 3) + 1));
        _cells = new ulong[cells];
        _cellMask = cells - 1;
        int window = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(64, 4 * (_largest + 1)));
        _ring = new int[window];
        _live = new ulong[window / 64];
        MemoryBytes = (cells * 8L) + (window * 4L) + (window / 8) + (Batch * 16L);
    }

    /// <summary>Bytes held (fixed).</summary>
    public long MemoryBytes { get; }

    /// <summary>Accesses simulated (each counted in one run level, the last for a miss at every size).</summary>
    public long Accesses => Hits(_levels);

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
        ulong link = Root;
        if (parent is { } p)
        {
            link = p == _previous ? AfterPrevious : Tag(p) | LookedUp;
        }

        _previous = key;
        int n = _batched;
        ref var pending = ref _batch[n];
        pending.Tag = Tag(key);
        pending.Link = link;
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
        ref var batch = ref MemoryMarshal.GetArrayDataReference(_batch);
        if (Sse.IsSupported)
        {
            ref ulong cells = ref MemoryMarshal.GetArrayDataReference(_cells);
            for (int i = 0; i < n; i++)
            {
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref cells, Home(Unsafe.Add(ref batch, i).Tag))));
            }
        }

        for (int i = 0; i < n; i++)
        {
            ref var pending = ref Unsafe.Add(ref batch, i);
            Step(pending.Tag, pending.Link);
        }
    }

    // The hot path indexes its arrays through references: every index is in range by construction (levels index the
    // per-size arrays; times are below the ring's length, which the bitmap covers; cells are masked). Inlined into Drain's loop: no call and register saves per access.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Step(ulong tag, ulong link)
    {
        if (_now + 1 == _ring.Length)
        {
            Renumber();
        }

        int now = ++_now;
        int levels = _levels;
        int cell = Find(tag);
        int level = levels;
        int t = -1;
        if (cell >= 0)
        {
            t = TimeOf(cell);
            level = LevelOf(t);
        }
        else
        {
            cell = ~cell;
        }

        int run = link == Root ? level : Math.Max(level, link == AfterPrevious ? _previousRun : RunOf(link & ~TimeMask, levels));
        _previousRun = run;
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_runs), run)++;
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_cells), cell) = tag | (uint)(now + 1);
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_live), now >> 6) |= 1UL << now;
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_ring), now) = cell | (run << RunShift);
        if (t >= 0)
        {
            // The key leaves the times before the anchors of the sizes it was beyond.
            Clear(t);
            ref long before = ref MemoryMarshal.GetArrayDataReference(_before);
            for (int j = 0; j < level; j++)
            {
                Unsafe.Add(ref before, j)--;
            }

            if (t == _oldest)
            {
                _oldest = NextLive(t);
            }
        }
        else if (++_count == 1)
        {
            _oldest = now;
        }
        else if (_count > _largest)
        {
            // The oldest key of all leaves the largest size: it is forgotten, and it was before every valid anchor.
            int oldest = _oldest;
            Remove(Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_ring), oldest) & CellBits);
            Clear(oldest);
            _count--;
            _forgotten++;
            _oldest = NextLive(oldest);
            PrefetchOldest();
        }
    }

    /// <summary>The first size within which the key last accessed at <paramref name="t"/> is (before this access).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int LevelOf(int t)
    {
        ref int size = ref MemoryMarshal.GetArrayDataReference(_sizes);
        ref int anchor = ref MemoryMarshal.GetArrayDataReference(_anchor);
        int count = _count;
        int j = 0;
        for (; j < _levels; j++)
        {
            // A size holding every tracked key holds this one; before the anchor, the key is before the boundary.
            if (Unsafe.Add(ref size, j) >= count || (t >= Unsafe.Add(ref anchor, j) && t >= Boundary(j)))
            {
                break;
            }
        }

        Debug.Assert(j < _levels, "a tracked key is within the largest size");
        return j;
    }

    /// <summary>
    /// The <paramref name="j"/>-th size's boundary now (the live time with count - size live times before it), which
    /// becomes its anchor. Only for a size below the count.
    /// </summary>
    private int Boundary(int j)
    {
        int need = _count - _sizes[j];
        int from = _anchor[j];
        int skip;
        if (from <= _oldest)
        {
            // The oldest key passed the anchor: nothing is before it.
            from = _oldest;
            skip = need;
        }
        else
        {
            skip = need - (int)(_before[j] - _forgotten);
        }

        Debug.Assert(skip >= 0, "boundaries only move forward");
        int b = Select(from, skip);
        _anchor[j] = b;
        _before[j] = need + _forgotten;
        return b;
    }

    /// <summary>The run level of the last access of the key of <paramref name="tag"/>, or <paramref name="broken"/> when it is not tracked.</summary>
    private int RunOf(ulong tag, int broken)
    {
        int cell = Find(tag);
        return cell < 0 ? broken : _ring[TimeOf(cell)] >> RunShift;
    }

    /// <summary>The next key to forget is known now: its cell is fetched while the tier does its own work.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void PrefetchOldest()
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref _cells[_ring[_oldest] & CellBits & _cellMask]));
        }
    }

    /// <summary>An access waiting in the batch: its key's tag and how its run continues (see <see cref="Root"/>).</summary>
    private struct Pending
    {
        public ulong Tag;
        public ulong Link;
    }
}
