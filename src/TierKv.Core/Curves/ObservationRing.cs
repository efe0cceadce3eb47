using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TierKv.Curves;

/// <summary>
/// The bounded ring of a tier's accesses between the tier and the curve simulation of a background
/// <see cref="MissRatioCurveEstimator"/>: one producer (the tier, under its lock) appends; one drainer at a time (the
/// estimator's worker, the producer itself when the ring is full, or a reader catching up; under the estimator's drain
/// lock) takes. 40 bytes an access, allocated once.
/// </summary>
/// <remarks>
/// The tail is published on every append (a plain store on x64, a store-release on Arm): a reader on another thread
/// sees every access whose append returned, without the tier's lock. The head is published once per drained batch.
/// Tail and head sit on cache lines of their own, so the producer's stores do not evict the drainer's line and the
/// other way round; the producer rereads the head only when the ring looks full.
/// </remarks>
internal sealed class ObservationRing
{
    private readonly Entry[] _entries;
    private readonly long _mask;
    private Positions _at;

    /// <summary>A ring of <paramref name="entries"/> accesses (a power of two).</summary>
    public ObservationRing(int entries)
    {
        Debug.Assert(int.IsPow2(entries), "the ring's size is a power of two");
        _entries = new Entry[entries];
        _mask = entries - 1;
    }

    /// <summary>Bytes an access takes in the ring.</summary>
    public static int EntryBytes => Unsafe.SizeOf<Entry>();

    /// <summary>Accesses the ring holds at most.</summary>
    public int Capacity => _entries.Length;

    /// <summary>Accesses appended since the start (the next one's position).</summary>
    public long Tail => Volatile.Read(ref _at.Tail);

    /// <summary>Accesses taken since the start (the next one to take).</summary>
    public long Head => Volatile.Read(ref _at.Head);

    /// <summary>Appends an access; false when the ring is full (then nothing changed). The producer only.</summary>
    public bool TryAppend(in ChunkKey key, ChunkKey? parent)
    {
        long tail = _at.Tail;
        if (tail - _at.HeadSeen >= _entries.Length)
        {
            _at.HeadSeen = Volatile.Read(ref _at.Head);
            if (tail - _at.HeadSeen >= _entries.Length)
            {
                return false;
            }
        }

        ref var e = ref _entries[tail & _mask];
        e.KeyHigh = key.High;
        e.KeyLow = key.Low;
        if (parent is { } p)
        {
            e.ParentHigh = p.High;
            e.ParentLow = p.Low;
            e.HasParent = true;
        }
        else
        {
            e.HasParent = false;
        }

        Volatile.Write(ref _at.Tail, tail + 1);
        return true;
    }

    /// <summary>The access at <paramref name="position"/> (between <see cref="Head"/> and <see cref="Tail"/>). The drainer only.</summary>
    public ChunkKey At(long position, out ChunkKey? parent)
    {
        ref readonly var e = ref _entries[position & _mask];
        parent = e.HasParent ? new ChunkKey(new UInt128(e.ParentHigh, e.ParentLow)) : null;
        return new ChunkKey(new UInt128(e.KeyHigh, e.KeyLow));
    }

    /// <summary>Everything before <paramref name="head"/> is taken: the producer may reuse it. The drainer only.</summary>
    public void Consumed(long head) => Volatile.Write(ref _at.Head, head);

    private struct Entry
    {
        public ulong KeyHigh;
        public ulong KeyLow;
        public ulong ParentHigh;
        public ulong ParentLow;
        public bool HasParent;
    }

    // The producer's line (tail and the head it last saw) and the drainer's (head), 64 bytes apart and from the rest.
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct Positions
    {
        [FieldOffset(64)]
        public long Tail;

        [FieldOffset(72)]
        public long HeadSeen;

        [FieldOffset(128)]
        public long Head;
    }
}
