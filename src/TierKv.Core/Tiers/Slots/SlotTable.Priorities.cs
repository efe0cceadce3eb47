namespace TierKv.Tiers.Slots;

/// <summary>Priorities and pins (<see cref="ChunkPriorities"/>): the one place every eviction policy obeys them.</summary>
public sealed partial class SlotTable
{
    private const int Levels = byte.MaxValue + 1;

    private readonly byte[] _priority;
    private readonly long[] _pinnedUntil;
    private readonly int[] _levelCount = new int[Levels];
    private int _topLevel;

    /// <summary>Published slots with a priority above normal or a pin (live or expired): zero keeps the plain path.</summary>
    private int _elevated;

    /// <summary>While a victim is sought: the highest priority a victim may have, and now (Unix ms) for pin deadlines.</summary>
    private byte _floor = byte.MaxValue;
    private long _nowMs;

    /// <summary>The registry this table consults (null: every chunk has normal priority and none is pinned).</summary>
    public ChunkPriorities? Priorities { get; private set; }

    /// <summary>The priority of a slot's chunk.</summary>
    public byte PriorityOf(int slot) => _priority[slot];

    /// <summary>The pin deadline (Unix ms, 0 when never pinned) of a slot's chunk.</summary>
    public long PinnedUntilOf(int slot) => Volatile.Read(ref _pinnedUntil[slot]);

    /// <summary>
    /// Starts consulting <paramref name="priorities"/>: the chunks this table holds with a priority (restored at
    /// recovery) enter it, and from now on every published chunk takes its entry.
    /// </summary>
    public void AttachPriorities(ChunkPriorities priorities)
    {
        ArgumentNullException.ThrowIfNull(priorities);
        List<PinRecord> held = [];
        lock (Lock)
        {
            if (ReferenceEquals(Priorities, priorities))
            {
                return;
            }

            if (Priorities is not null)
            {
                throw new InvalidOperationException("This tier already obeys another store's priorities; a tier belongs to one store.");
            }

            Priorities = priorities;
            priorities.Attach(this);
            for (int s = 0; s < Slots && _elevated > 0; s++)
            {
                if (_states[s] is SlotState.Ready or SlotState.Staged && (_priority[s] != 0 || _pinnedUntil[s] != 0))
                {
                    held.Add(new PinRecord(_keys[s], _priority[s], _pinnedUntil[s]));
                }
            }
        }

        // Outside the lock: the registry reads lengths back under it.
        foreach (var r in held)
        {
            priorities.Restore(r.Key, r.Priority, r.PinnedUntilMs);
        }
    }

    /// <summary>Sets a published slot's priority and pin deadline (recovery, from what the medium recorded).</summary>
    public void SetPriorityLocked(int slot, byte priority, long pinnedUntilMs)
    {
        LeavePriorityLocked(slot);
        _priority[slot] = priority;
        Volatile.Write(ref _pinnedUntil[slot], pinnedUntilMs);
        EnterPriorityLocked(slot);
    }

    /// <summary>The registry changed <paramref name="key"/>'s entry: a held copy takes it.</summary>
    internal void RefreshPriority(in ChunkKey key)
    {
        lock (Lock)
        {
            if (_index.TryGet(key, out int slot))
            {
                ApplyPriorityLocked(slot, key, entering: false);
            }
        }
    }

    /// <summary>The payload length of the held copy of <paramref name="key"/>; -1 when none.</summary>
    internal int HeldLength(in ChunkKey key)
    {
        lock (Lock)
        {
            return _index.TryGet(key, out int slot) ? _lengths[slot] : -1;
        }
    }

    private void ApplyPriorityLocked(int slot, in ChunkKey key, bool entering)
    {
        if (!entering)
        {
            LeavePriorityLocked(slot);
        }

        byte priority = 0;
        long until = 0;
        Priorities?.TryGet(key, out priority, out until);
        _priority[slot] = priority;
        Volatile.Write(ref _pinnedUntil[slot], until);
        EnterPriorityLocked(slot);
    }

    private void EnterPriorityLocked(int slot)
    {
        byte p = _priority[slot];
        _levelCount[p]++;
        _topLevel = Math.Max(_topLevel, p);
        if (p != 0 || _pinnedUntil[slot] != 0)
        {
            _elevated++;
        }
    }

    private void LeavePriorityLocked(int slot)
    {
        byte p = _priority[slot];
        _levelCount[p]--;
        if (p != 0 || _pinnedUntil[slot] != 0)
        {
            _elevated--;
        }

        _priority[slot] = 0;
        Volatile.Write(ref _pinnedUntil[slot], 0);
    }

    /// <summary>Asks the policy level by level, lowest priority first, until a level has an evictable chunk.</summary>
    private int SelectByPriorityLocked(in ChunkKey incoming, bool trimming)
    {
        _nowMs = (Priorities?.Clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            for (int level = 0; level <= _topLevel; level++)
            {
                if (_levelCount[level] == 0)
                {
                    continue;
                }

                _floor = (byte)level;
                int victim = trimming ? _policy.SelectTrimVictim(this) : _policy.SelectVictim(incoming, this);
                if (victim >= 0)
                {
                    return victim;
                }
            }

            return -1;
        }
        finally
        {
            _floor = byte.MaxValue;
            _nowMs = 0;
        }
    }
}
