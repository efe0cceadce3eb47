using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace TierKv.Tiers.Slots;

/// <summary>
/// The priorities and pins of one store's chunks (or of one tenant's stores), shared by the slot tables of its local
/// tiers so that a chunk keeps them in whichever tier it sits: a chunk of higher priority is evicted only after every
/// evictable chunk of lower priority, and a pinned chunk is never evicted until it is unpinned or its pin's time to
/// live ends (the chunk then stays, at its priority). See docs/core.md, "Priorities and pins".
/// </summary>
/// <remarks>
/// <para>
/// Only chunks with a priority above <see cref="Normal"/> or a pin have an entry; a table looks its chunk up when it
/// publishes it (one dictionary probe, skipped while the registry is empty) and is told when an entry of a chunk it
/// holds changes. Entries of chunks no tier holds any more are swept when the registry grows, and pins of such chunks
/// when pins are counted, so the registry stays bounded by what the tiers hold.
/// </para>
/// <para>
/// Locks: a table calls in under its own lock, so this class never takes a table's lock while it holds its own;
/// pins are serialized by a second lock that tables never take.
/// </para>
/// </remarks>
public sealed class ChunkPriorities
{
    /// <summary>The priority of a chunk stored without one.</summary>
    public const byte Normal = 0;

    /// <summary>A suggested priority for chunks known to come back (system prompts, tool definitions).</summary>
    public const byte High = 128;

    /// <summary>A pin's deadline when it has no time to live.</summary>
    public const long Forever = long.MaxValue;

    private readonly Dictionary<ChunkKey, Entry> _entries = [];
    private readonly Lock _lock = new();
    private readonly Lock _pinLock = new();
    private readonly List<SlotTable> _tables = [];
    private SlotTable[] _tableSnapshot = [];
    private int _count;
    private int _sweepAt = 4096;

    /// <summary>A registry whose pin deadlines are read from <paramref name="clock"/> (the system clock by default).</summary>
    public ChunkPriorities(TimeProvider? clock = null) => Clock = clock ?? TimeProvider.System;

    /// <summary>The clock of pin deadlines (inject one in tests).</summary>
    public TimeProvider Clock { get; }

    /// <summary>Now, in Unix milliseconds by <see cref="Clock"/>.</summary>
    public long NowMs => Clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Chunks with an entry (a priority or a pin).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Raised after pins were added or removed by a caller (not when they expire): the SSD tier records them.</summary>
    public event Action? PinsChanged;

    /// <summary>Pinned chunks that a tier still holds and whose pin has not expired.</summary>
    public int PinnedChunks
    {
        get
        {
            SweepPins(out int chunks, out _);
            return chunks;
        }
    }

    /// <summary>Payload bytes of <see cref="PinnedChunks"/>.</summary>
    public long PinnedBytes
    {
        get
        {
            SweepPins(out _, out long bytes);
            return bytes;
        }
    }

    /// <summary>
    /// Gives <paramref name="key"/> <paramref name="priority"/> (<see cref="Normal"/> removes it unless pinned); a chunk
    /// not yet stored takes it when a tier publishes it, one already held takes it at once.
    /// </summary>
    public void SetPriority(in ChunkKey key, byte priority)
    {
        lock (_lock)
        {
            ref var e = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, key);
            if (Unsafe.IsNullRef(ref e))
            {
                if (priority == Normal)
                {
                    return;
                }

                _entries[key] = new Entry(priority, 0, 0);
                Volatile.Write(ref _count, _entries.Count);
                if (_entries.Count >= _sweepAt)
                {
                    SweepUnheldLocked();
                }
            }
            else
            {
                if (e.Priority == priority)
                {
                    return;
                }

                e.Priority = priority;
                RemoveIfPlainLocked(key, e);
            }
        }

        Refresh(key);
    }

    /// <summary>The priority and pin deadline (Unix ms, 0 when not pinned) of <paramref name="key"/>; false when it has neither.</summary>
    public bool TryGet(in ChunkKey key, out byte priority, out long pinnedUntilMs)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            priority = Normal;
            pinnedUntilMs = 0;
            return false;
        }

        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var e))
            {
                priority = e.Priority;
                pinnedUntilMs = e.PinnedUntilMs;
                return true;
            }
        }

        priority = Normal;
        pinnedUntilMs = 0;
        return false;
    }

    /// <summary>The priority of <paramref name="key"/> (<see cref="Normal"/> when it has none).</summary>
    public byte PriorityOf(in ChunkKey key) => TryGet(key, out byte p, out _) ? p : Normal;

    /// <summary>
    /// Pins those of <paramref name="keys"/> that a tier holds, for <paramref name="ttl"/> (null: until unpinned), and
    /// returns how many are pinned now (held keys already pinned get the new deadline and count too; missing keys are
    /// skipped). All or none: when the pinned bytes would pass <paramref name="maxPinnedBytes"/>, nothing changes and
    /// <see cref="PinLimitExceededException"/> says by how much.
    /// </summary>
    public int Pin(ReadOnlySpan<ChunkKey> keys, TimeSpan? ttl, long maxPinnedBytes = long.MaxValue)
    {
        if (ttl is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), t, "A pin's time to live must be positive.");
        }

        int pinned = 0;
        lock (_pinLock)
        {
            long until = ttl is { } tt ? NowMs + (long)tt.TotalMilliseconds : Forever;
            var lengths = new int[keys.Length];
            long adding = 0;
            for (int i = 0; i < keys.Length; i++)
            {
                lengths[i] = HeldLength(keys[i]);
                if (lengths[i] >= 0 && !IsPinned(keys[i]) && keys[..i].IndexOf(keys[i]) < 0)
                {
                    adding += lengths[i];
                }
            }

            long current = PinnedBytes;
            if (adding > 0 && current + adding > maxPinnedBytes)
            {
                throw new PinLimitExceededException(maxPinnedBytes, current, adding);
            }

            for (int i = 0; i < keys.Length; i++)
            {
                if (lengths[i] < 0)
                {
                    continue;
                }

                lock (_lock)
                {
                    ref var e = ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, keys[i], out _);
                    e.PinnedUntilMs = until;
                    e.Length = lengths[i];
                    Volatile.Write(ref _count, _entries.Count);
                }

                Refresh(keys[i]);
                pinned++;
            }
        }

        if (pinned > 0)
        {
            PinsChanged?.Invoke();
        }

        return pinned;
    }

    /// <summary>Unpins <paramref name="keys"/> (their priority stays); returns how many were pinned.</summary>
    public int Unpin(ReadOnlySpan<ChunkKey> keys)
    {
        int unpinned = 0;
        lock (_pinLock)
        {
            long now = NowMs;
            foreach (var key in keys)
            {
                lock (_lock)
                {
                    ref var e = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, key);
                    if (Unsafe.IsNullRef(ref e) || e.PinnedUntilMs <= now)
                    {
                        continue;
                    }

                    e.PinnedUntilMs = 0;
                    RemoveIfPlainLocked(key, e);
                }

                Refresh(key);
                unpinned++;
            }
        }

        if (unpinned > 0)
        {
            PinsChanged?.Invoke();
        }

        return unpinned;
    }

    /// <summary>Forgets <paramref name="key"/>'s priority and pin (its chunk was deleted).</summary>
    public void Forget(in ChunkKey key)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            return;
        }

        bool wasPinned;
        lock (_lock)
        {
            if (!_entries.Remove(key, out var e))
            {
                return;
            }

            Volatile.Write(ref _count, _entries.Count);
            wasPinned = e.PinnedUntilMs > NowMs;
        }

        Refresh(key);
        if (wasPinned)
        {
            PinsChanged?.Invoke();
        }
    }

    /// <summary>Whether <paramref name="key"/> is pinned now.</summary>
    public bool IsPinned(in ChunkKey key) => TryGet(key, out _, out long until) && until > NowMs;

    /// <summary>The live pins (key, priority, deadline): what the SSD tier records.</summary>
    public PinRecord[] SnapshotPins()
    {
        long now = NowMs;
        lock (_lock)
        {
            var list = new List<PinRecord>();
            foreach (var (key, e) in _entries)
            {
                if (e.PinnedUntilMs > now)
                {
                    list.Add(new PinRecord(key, e.Priority, e.PinnedUntilMs));
                }
            }

            return [.. list];
        }
    }

    /// <summary>
    /// Restores what a tier recorded (at its recovery): the priority of a chunk it holds, and its pin when
    /// <paramref name="pinnedUntilMs"/> is still ahead; an expired pin is dropped, the priority kept. Returns whether
    /// a pin was restored.
    /// </summary>
    public bool Restore(in ChunkKey key, byte priority, long pinnedUntilMs)
    {
        int length = HeldLength(key);
        if (length < 0)
        {
            return false;
        }

        bool pinned = pinnedUntilMs > NowMs;
        lock (_lock)
        {
            ref var e = ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, key, out _);
            e.Priority = Math.Max(e.Priority, priority);
            if (pinned)
            {
                e.PinnedUntilMs = pinnedUntilMs;
                e.Length = length;
            }

            Volatile.Write(ref _count, _entries.Count);
            RemoveIfPlainLocked(key, e);
        }

        Refresh(key);
        return pinned;
    }

    /// <summary>A table starts consulting this registry (<see cref="SlotTable.AttachPriorities"/>).</summary>
    internal void Attach(SlotTable table)
    {
        lock (_lock)
        {
            _tables.Add(table);
            _tableSnapshot = [.. _tables];
        }
    }

    private void Refresh(in ChunkKey key)
    {
        foreach (var t in Volatile.Read(ref _tableSnapshot))
        {
            t.RefreshPriority(key);
        }
    }

    /// <summary>The payload length of the first attached table's copy of <paramref name="key"/>; -1 when none holds it.</summary>
    private int HeldLength(in ChunkKey key)
    {
        foreach (var t in Volatile.Read(ref _tableSnapshot))
        {
            int len = t.HeldLength(key);
            if (len >= 0)
            {
                return len;
            }
        }

        return -1;
    }

    private bool IsHeld(in ChunkKey key)
    {
        foreach (var t in _tableSnapshot)
        {
            if (t.Contains(key))
            {
                return true;
            }
        }

        return false;
    }

    private void RemoveIfPlainLocked(in ChunkKey key, in Entry e)
    {
        if (e.Priority == Normal && e.PinnedUntilMs == 0)
        {
            _entries.Remove(key);
            Volatile.Write(ref _count, _entries.Count);
        }
    }

    /// <summary>Drops expired pins and the pins (with entries) of chunks no tier holds; counts the rest.</summary>
    private void SweepPins(out int chunks, out long bytes)
    {
        chunks = 0;
        bytes = 0;
        long now = NowMs;
        lock (_lock)
        {
            List<ChunkKey>? gone = null;
            foreach (var (key, e) in _entries)
            {
                if (e.PinnedUntilMs == 0)
                {
                    continue;
                }

                if (e.PinnedUntilMs > now && IsHeld(key))
                {
                    chunks++;
                    bytes += e.Length;
                }
                else
                {
                    (gone ??= []).Add(key);
                }
            }

            if (gone is null)
            {
                return;
            }

            foreach (var key in gone)
            {
                ref var e = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, key);
                e.PinnedUntilMs = 0;
                if (!IsHeld(key))
                {
                    e.Priority = Normal;
                }

                RemoveIfPlainLocked(key, e);
            }
        }
    }

    private void SweepUnheldLocked()
    {
        List<ChunkKey>? gone = null;
        foreach (var (key, _) in _entries)
        {
            if (!IsHeld(key))
            {
                (gone ??= []).Add(key);
            }
        }

        // A chunk set just before its write is not held yet: it loses its priority only if the sweep hits that moment.
        foreach (var key in gone ?? [])
        {
            _entries.Remove(key);
        }

        Volatile.Write(ref _count, _entries.Count);
        _sweepAt = Math.Max(4096, _entries.Count * 2);
    }

    private record struct Entry(byte Priority, long PinnedUntilMs, int Length);
}
