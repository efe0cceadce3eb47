
namespace TierKv.Eviction;

/// <summary>
/// S3-FIFO (Yang et al., SOSP 2023): new chunks enter a small FIFO (a tenth of the slots); those read again while
/// there move to the main FIFO, the others leave and are remembered in a ghost list of keys, and a ghost that comes
/// back enters the main FIFO directly. The main FIFO gives each chunk up to three second chances (a 2-bit counter).
/// Quick demotion of one-hit chunks is what makes it strong on scan-heavy traffic.
/// </summary>
public sealed class S3FifoPolicy : EvictionPolicy
{
    private const int MaxFrequency = 3;
    private readonly SlotLinks _links;
    private readonly ChunkKey[] _keys;
    private readonly byte[] _freq;
    private readonly bool[] _inMain;
    private readonly KeyList _ghost;
    private readonly double _smallFraction;
    private int _smallTarget;
    private SlotList _small = SlotList.Empty;
    private SlotList _main = SlotList.Empty;
    private int _pendingVictim = -1;

    /// <summary>Creates an S3-FIFO policy for <paramref name="capacity"/> slots with a small queue of a tenth of them.</summary>
    public S3FifoPolicy(int capacity)
        : this(capacity, 0.1)
    {
    }

    /// <summary>Creates an S3-FIFO policy whose small queue targets <paramref name="smallFraction"/> of the slots.</summary>
    public S3FifoPolicy(int capacity, double smallFraction)
        : base(capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(smallFraction, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(smallFraction, 1.0);
        _links = new SlotLinks(capacity);
        _keys = new ChunkKey[capacity];
        _freq = new byte[capacity];
        _inMain = new bool[capacity];
        _smallFraction = smallFraction;
        _smallTarget = SmallTarget(capacity);
        _ghost = new KeyList(Math.Max(1, capacity - _smallTarget));
    }

    /// <inheritdoc />
    public override string Name => "s3fifo";

    /// <inheritdoc />
    public override void OnInsert(int slot, ChunkKey key)
    {
        _keys[slot] = key;
        _freq[slot] = 0;
        if (_ghost.Remove(key))
        {
            _inMain[slot] = true;
            _links.PushTail(ref _main, slot);
        }
        else
        {
            _inMain[slot] = false;
            _links.PushTail(ref _small, slot);
        }
    }

    /// <inheritdoc />
    public override void OnHit(int slot)
    {
        if (_freq[slot] < MaxFrequency)
        {
            _freq[slot]++;
        }
    }

    /// <inheritdoc />
    public override void OnRemove(int slot)
    {
        if (_inMain[slot])
        {
            _links.Remove(ref _main, slot);
        }
        else
        {
            _links.Remove(ref _small, slot);
            if (slot == _pendingVictim)
            {
                // Evicted from the small queue without a second access: remember the key only.
                _ghost.AddNewest(_keys[slot]);
            }
        }

        if (slot == _pendingVictim)
        {
            _pendingVictim = -1;
        }
    }

    /// <summary>
    /// The small queue's target and the ghost list follow the limit; queued chunks and ghosts stay (the newest ghosts
    /// that fit), and the queues reach their new sizes as the tier evicts.
    /// </summary>
    protected override void OnResize(int previous)
    {
        _smallTarget = SmallTarget(Limit);
        _ghost.SetLimit(Limit - _smallTarget);
    }

    private int SmallTarget(int slots) => Math.Max(1, (int)(slots * _smallFraction));

    /// <inheritdoc />
    public override int SelectVictim(ChunkKey incoming, IEvictionCandidates candidates)
    {
        // Each pass either evicts, promotes, decrements a counter or rotates a pinned slot; the bound covers all of
        // them for every resident slot, so a victim is found whenever one exists.
        int budget = (MaxFrequency + 2) * (_small.Count + _main.Count) + 2;
        int pinnedInSmall = 0, pinnedInMain = 0;
        while (budget-- > 0)
        {
            bool smallHasCandidates = pinnedInSmall < _small.Count;
            bool mainHasCandidates = pinnedInMain < _main.Count;
            if (smallHasCandidates && (_small.Count >= _smallTarget || !mainHasCandidates))
            {
                int s = _small.Head;
                if (_freq[s] > 0)
                {
                    _links.Remove(ref _small, s);
                    _freq[s] = 0;
                    _inMain[s] = true;
                    _links.PushTail(ref _main, s);
                    continue;
                }

                if (candidates.CanEvict(s))
                {
                    return _pendingVictim = s;
                }

                pinnedInSmall++;
                _links.MoveToTail(ref _small, s);
                continue;
            }

            if (!mainHasCandidates)
            {
                break;
            }

            int m = _main.Head;
            if (_freq[m] > 0)
            {
                _freq[m]--;
                _links.MoveToTail(ref _main, m);
                continue;
            }

            if (candidates.CanEvict(m))
            {
                return _pendingVictim = m;
            }

            pinnedInMain++;
            _links.MoveToTail(ref _main, m);
        }

        // The counters above can give up early after promotions reshuffle the queues; a last plain scan makes sure a
        // victim is found whenever one is evictable (prefix-aware wrappers rely on that to prefer leaves).
        for (int s = _small.Head; s >= 0; s = _links.Next(s))
        {
            if (candidates.CanEvict(s))
            {
                return _pendingVictim = s;
            }
        }

        for (int s = _main.Head; s >= 0; s = _links.Next(s))
        {
            if (candidates.CanEvict(s))
            {
                return _pendingVictim = s;
            }
        }

        return -1;
    }
}
