using TierKv.Keys;
using TierKv.Tiers.Slots;

namespace TierKv.Core.Tests.Priorities;

/// <summary>A slot table driven as a tier drives it (take a free slot or evict, publish, read, delete), with a registry of priorities.</summary>
internal sealed class PriorityTable
{
    public const int ChunkLength = 100;

    public PriorityTable(int capacity, string policy, ManualClock? clock = null)
    {
        Table = new SlotTable(capacity, policy);
        Priorities = new ChunkPriorities(clock);
        Table.AttachPriorities(Priorities);
    }

    public SlotTable Table { get; }

    public ChunkPriorities Priorities { get; }

    public static ChunkKey Key(int id) => new(new UInt128(0xC0FFEE, (ulong)id + 1));

    public bool IsResident(int id) => Table.Contains(Key(id));

    /// <summary>Inserts <paramref name="id"/> at <paramref name="priority"/>, evicting when full; returns the evicted slot's key id, -1 when none, -2 when rejected.</summary>
    public int Insert(int id, byte priority)
    {
        var key = Key(id);
        if (priority != 0)
        {
            Priorities.SetPriority(key, priority);
        }

        lock (Table.Lock)
        {
            if (Table.Contains(key))
            {
                return -1;
            }

            int evicted = -1;
            if (!Table.TryTakeFreeLocked(out int slot))
            {
                int victim = Table.SelectVictimLocked(key);
                if (victim < 0)
                {
                    return -2;
                }

                evicted = (int)Table.KeyOf(victim).Low - 1;
                Table.DetachLocked(victim, SlotState.Writing);
                slot = victim;
            }

            Table.PublishLocked(slot, key, ChunkLength, null, 0, SlotState.Ready);
            return evicted;
        }
    }

    /// <summary>A read: a hit for the policy, the reader gone at once.</summary>
    public void Read(int id)
    {
        int slot;
        lock (Table.Lock)
        {
            if (!Table.TryPinLocked(Key(id), out slot))
            {
                return;
            }
        }

        Table.Unpin(slot, _ => { });
    }

    /// <summary>Holds a reader on <paramref name="id"/>; returns the slot to release, -1 when absent.</summary>
    public int HoldReader(int id)
    {
        lock (Table.Lock)
        {
            return Table.TryPinLocked(Key(id), out int slot) ? slot : -1;
        }
    }

    public void ReleaseReader(int slot) => Table.Unpin(slot, s => Table.ReleaseLocked(s));

    public void Delete(int id)
    {
        lock (Table.Lock)
        {
            if (Table.TryGetLocked(Key(id), out int slot) && !Table.IsPinnedLocked(slot))
            {
                Table.DetachLocked(slot);
                Table.ReleaseLocked(slot);
            }
        }
    }
}
