using System.Numerics;

namespace TierKv.Eviction;

/// <summary>Receives the demotion of a chunk classified as a request tail (<see cref="TailClassifier"/>).</summary>
internal interface ITailDemotion
{
    /// <summary>Moves the chunk in <paramref name="slot"/> <paramref name="ranks"/> positions down the eviction order.</summary>
    void Demote(int slot, double ranks);
}

/// <summary>
/// Tells request tails from interior chunks and measures how often each comes back (docs/analysis.md, "Request tails").
/// A brand-new chunk waits in a 4-entry queue; when the tier next asks for a victim, the chunks queued before the latest
/// one are classified: one the tier still reports as a leaf ended its run of inserts (a tail), the others are interior.
/// The class of each key is remembered (one byte per hashed key) until the key's second access, which counts as a reuse
/// of that class; <see cref="TailReuseRatio"/> compares the two reuse rates, and a new tail is demoted by
/// <c>(1 - ratio) x capacity</c> ranks. Shared by <see cref="AdaptiveLfuPolicy"/> and <see cref="LeaderPolicy"/>.
/// </summary>
internal sealed class TailClassifier
{
    private const int PendingSize = 4;
    private const byte Interior = 1;
    private const byte Tail = 2;

    private int _capacity;
    private readonly int _minWindow;
    private readonly ChunkKey[] _keyOf;
    private readonly long[] _stampOf;
    private readonly int[] _pendingSlot = new int[PendingSize];
    private readonly long[] _pendingStamp = new long[PendingSize];
    private readonly byte[] _firstClass;
    private readonly int _classMask;
    private int _pendingCount;
    private double _tails;
    private double _tailsReused;
    private double _interiors;
    private double _interiorsReused;

    public TailClassifier(int capacity, int classes, int minWindow)
    {
        _capacity = capacity;
        _minWindow = minWindow;
        _keyOf = new ChunkKey[capacity];
        _stampOf = new long[capacity];
        _stampOf.AsSpan().Fill(-1);
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1024, classes));
        _firstClass = new byte[size];
        _classMask = size - 1;
    }

    /// <summary>Second-access rate of new tails over that of new interior chunks, at most 1 (near 1 until there is evidence).</summary>
    public double TailReuseRatio
    {
        get
        {
            // Add-one estimates: with little evidence the ratio stays near 1 and tails keep their normal rank.
            double tail = (_tailsReused + 1) / (_tails + 2);
            double interior = (_interiorsReused + 1) / (_interiors + 2);
            return Math.Min(1.0, tail / interior);
        }
    }

    /// <summary>The cache's size changed (its slot limit): demotions and the estimate's window follow it.</summary>
    public void Resize(int capacity) => _capacity = capacity;

    /// <summary>A brand-new chunk (never seen before) entered <paramref name="slot"/>; <paramref name="stamp"/> tells this insert apart from later ones.</summary>
    public void OnNewChunk(int slot, in ChunkKey key, long stamp)
    {
        if (_pendingCount == PendingSize)
        {
            // Not classified in time (the tier had free slots, so no victim was asked for): forget the oldest.
            _stampOf[_pendingSlot[0]] = -1;
            Array.Copy(_pendingSlot, 1, _pendingSlot, 0, PendingSize - 1);
            Array.Copy(_pendingStamp, 1, _pendingStamp, 0, PendingSize - 1);
            _pendingCount--;
        }

        _keyOf[slot] = key;
        _stampOf[slot] = stamp;
        _pendingSlot[_pendingCount] = slot;
        _pendingStamp[_pendingCount] = stamp;
        _pendingCount++;
    }

    /// <summary>The chunk in <paramref name="slot"/> was accessed again or left: it is no longer waiting.</summary>
    public void Forget(int slot) => _stampOf[slot] = -1;

    /// <summary>The second access of <paramref name="key"/> ever: counts for the class its first access was given, once.</summary>
    public void OnSecondAccess(in ChunkKey key)
    {
        ref byte c = ref _firstClass[ClassIndex(key)];
        if (c == Tail)
        {
            _tailsReused++;
        }
        else if (c == Interior)
        {
            _interiorsReused++;
        }

        c = 0;
    }

    /// <summary>
    /// Classifies the chunks queued before the latest insert (the chunk after each has been inserted by now, so one that
    /// is still a leaf ended its run of inserts) and demotes each tail through <paramref name="sink"/>. The latest insert
    /// waits: its successor is the chunk the tier is making room for.
    /// </summary>
    public void Classify(IEvictionCandidates candidates, ITailDemotion sink)
    {
        if (_pendingCount <= 1)
        {
            return;
        }

        for (int i = 0; i < _pendingCount - 1; i++)
        {
            int slot = _pendingSlot[i];
            if (_stampOf[slot] != _pendingStamp[i])
            {
                continue;
            }

            _stampOf[slot] = -1;
            bool tail = candidates.IsLeaf(slot);
            _firstClass[ClassIndex(_keyOf[slot])] = tail ? Tail : Interior;
            if (tail)
            {
                _tails++;
                double demote = (1 - TailReuseRatio) * _capacity;
                if (demote > 0)
                {
                    sink.Demote(slot, demote);
                }
            }
            else if (++_interiors > Math.Max(_minWindow, _capacity))
            {
                // Halve all counts now and then so the estimate follows a trace whose mix changes.
                _interiors /= 2;
                _interiorsReused /= 2;
                _tails /= 2;
                _tailsReused /= 2;
            }
        }

        _pendingSlot[0] = _pendingSlot[_pendingCount - 1];
        _pendingStamp[0] = _pendingStamp[_pendingCount - 1];
        _pendingCount = 1;
    }

    private int ClassIndex(in ChunkKey key)
    {
        ulong h = (key.High ^ (key.Low * 0xC2B2AE3D27D4EB4FUL)) * 0x9E3779B97F4A7C15UL;
        return (int)((h >> 32) & (uint)_classMask);
    }
}
