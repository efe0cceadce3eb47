using System.Runtime.CompilerServices;

namespace TierKv.Curves;

/// <summary>
/// Chooses the accesses a <see cref="MissRatioCurveEstimator"/> simulates: whole prefix families, so a sampled
/// request's chain is complete and its prefix hits keep their meaning. A family is the subtree under a chunk at depth 1
/// (the child of a root), picked by a hash of that chunk's key (SHARDS's spatial sampling, Waldspurger et al., FAST'15):
/// roots are often shared by every request (one system prompt), so sampling by root would take all or nothing. A
/// root's access is held back until the next access shows whose request it starts, then replayed for a sampled family
/// (or, for a request of the root alone, sampled by the root's own hash). Deeper chunks belong to their parent's family,
/// found in a small table of recently sampled keys (the parent was accessed just before its child). Not thread-safe:
/// the tier calls it under its lock.
/// </summary>
internal sealed class FamilySampler
{
    private const int RootBits = 10;
    private const int MemberBits = 12;

    private readonly ulong _seed;
    private readonly ulong _threshold;
    private readonly ChunkKey[] _roots = new ChunkKey[1 << RootBits];
    private readonly bool[] _rootUsed = new bool[1 << RootBits];
    private readonly ChunkKey[] _members = new ChunkKey[1 << MemberBits];
    private readonly ulong[] _memberFamily = new ulong[1 << MemberBits];
    private readonly bool[] _memberUsed = new bool[1 << MemberBits];
    private ChunkKey _pendingRoot;
    private bool _pending;

    /// <summary>Samples families whose hash is at most <paramref name="threshold"/> (ulong.MaxValue: all).</summary>
    public FamilySampler(ulong seed, ulong threshold)
    {
        _seed = seed;
        _threshold = threshold;
    }

    /// <summary>Bytes of the tables.</summary>
    public static long MemoryBytes => ((1L << RootBits) * 17) + ((1L << MemberBits) * 25);

    /// <summary>Accesses to simulate after the last <see cref="Observe"/> (0 to 2).</summary>
    public int Count { get; private set; }

    /// <summary>The <paramref name="i"/>-th access to simulate: its key, its parent (null for a root) and its family's hash.</summary>
    public (ChunkKey Key, ChunkKey? Parent, ulong Family) this[int i] => i == 0 ? _first : _second;

    private (ChunkKey Key, ChunkKey? Parent, ulong Family) _first;
    private (ChunkKey Key, ChunkKey? Parent, ulong Family) _second;

    /// <summary>The tier accessed <paramref name="key"/> (a hit or an insert), whose parent is <paramref name="parent"/>.</summary>
    public void Observe(in ChunkKey key, ChunkKey? parent)
    {
        Count = 0;
        if (parent is not { } p)
        {
            if (_pending)
            {
                // The previous root began a request of that root alone: its own hash decides.
                ulong f = Hash(_pendingRoot);
                if (f <= _threshold)
                {
                    Emit(_pendingRoot, null, f);
                }
            }

            _pendingRoot = key;
            _pending = true;
            int r = Slot(key, RootBits);
            _roots[r] = key;
            _rootUsed[r] = true;
            return;
        }

        int rp = Slot(p, RootBits);
        bool pendingParent = _pending && _pendingRoot == p;
        if (pendingParent || (_rootUsed[rp] && _roots[rp] == p))
        {
            _pending &= !pendingParent;
            ulong f = Hash(key);
            if (f <= _threshold)
            {
                Emit(p, null, f);
                Emit(key, p, f);
                Remember(key, f);
            }

            return;
        }

        int mp = Slot(p, MemberBits);
        if (_memberUsed[mp] && _members[mp] == p)
        {
            ulong f = _memberFamily[mp];
            Emit(key, p, f);
            Remember(key, f);
        }
    }

    /// <summary>Releases a root still held back (the stream paused after a request of that root alone).</summary>
    public void Flush()
    {
        Count = 0;
        if (_pending)
        {
            _pending = false;
            ulong f = Hash(_pendingRoot);
            if (f <= _threshold)
            {
                Emit(_pendingRoot, null, f);
            }
        }
    }

    /// <summary>The family hash of a chunk at depth 1 (or of a lone root): uniform over 64 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Hash(in ChunkKey key)
    {
        ulong z = key.Low ^ (key.High * 0x9E3779B97F4A7C15UL) ^ _seed;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(in ChunkKey key, int bits) => (int)((key.Low * 0x9E3779B97F4A7C15UL) >> (64 - bits));

    private void Remember(in ChunkKey key, ulong family)
    {
        int m = Slot(key, MemberBits);
        _members[m] = key;
        _memberFamily[m] = family;
        _memberUsed[m] = true;
    }

    private void Emit(in ChunkKey key, ChunkKey? parent, ulong family)
    {
        if (Count++ == 0)
        {
            _first = (key, parent, family);
        }
        else
        {
            _second = (key, parent, family);
        }
    }
}
