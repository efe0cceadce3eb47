using CsCheck;
using TierKv.Core.Tests.Eviction;
using TierKv.Tiers.Slots;

namespace TierKv.Core.Tests.Priorities;

/// <summary>Priorities and pins are obeyed in the slot table, so by every eviction policy.</summary>
public class PriorityEvictionTests
{
    public static TheoryData<string> AllPolicies => PolicyPropertyTests.AllPolicies;

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void Chunks_leave_in_priority_order_whatever_the_policy(string policy)
    {
        const int capacity = 12;
        var t = new PriorityTable(capacity, policy);
        for (int id = 0; id < capacity; id++)
        {
            Assert.Equal(-1, t.Insert(id, (byte)(id % 3 * 50)));
            t.Read(id);
        }

        // Each new chunk (at the top priority, so it never competes) pushes out one old one: lowest priority first.
        var evictedPriorities = new List<int>();
        for (int id = 100; id < 100 + capacity; id++)
        {
            int evicted = t.Insert(id, 255);
            Assert.True(evicted >= 0, $"{policy}: an insert found no victim");
            evictedPriorities.Add(evicted % 3 * 50);
        }

        Assert.Equal([.. evictedPriorities.Order()], evictedPriorities);
    }

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void A_higher_priority_chunk_is_never_evicted_while_a_lower_one_is_evictable(string policy)
    {
        // Operations: insert (0-3, at priority kind % 4 * 40), read, hold or release a reader, pin, unpin, delete.
        Gen.Select(Gen.Int[1, 10], Gen.Select(Gen.Int[0, 9], Gen.Int[0, 15]).Array[1, 250]).Sample(sc =>
        {
            var (capacity, ops) = sc;
            var t = new PriorityTable(capacity, policy);
            var readers = new List<int>();
            foreach (var (kind, id) in ops)
            {
                switch (kind)
                {
                    case 4:
                        t.Read(id);
                        break;
                    case 5:
                        int slot = t.HoldReader(id);
                        if (slot >= 0)
                        {
                            readers.Add(slot);
                        }

                        break;
                    case 6 when readers.Count > 0:
                        t.ReleaseReader(readers[^1]);
                        readers.RemoveAt(readers.Count - 1);
                        break;
                    case 7:
                        t.Priorities.Pin([PriorityTable.Key(id)], null);
                        break;
                    case 8:
                        t.Priorities.Unpin([PriorityTable.Key(id)]);
                        break;
                    case 9 when !readers.Exists(s => t.Table.KeyOf(s) == PriorityTable.Key(id)):
                        t.Delete(id);
                        break;
                    default:
                        InsertAndCheck(t, capacity, id, (byte)(kind % 4 * 40), readers);
                        break;
                }
            }
        });
    }

    private static void InsertAndCheck(PriorityTable t, int capacity, int id, byte priority, List<int> readers)
    {
        bool wasResident = t.IsResident(id);
        bool full = t.Table.ChunkCount == capacity;

        // What a correct choice is, by brute force over the slots before the insert.
        int lowest = int.MaxValue;
        var evictable = new HashSet<int>();
        for (int s = 0; s < capacity; s++)
        {
            if (t.Table.StateOf(s) == SlotState.Ready && !readers.Contains(s) && !t.Priorities.IsPinned(t.Table.KeyOf(s)))
            {
                evictable.Add(s);
                lowest = Math.Min(lowest, t.Table.PriorityOf(s));
            }
        }

        var before = new Dictionary<int, (int Slot, int Priority)>();
        for (int s = 0; s < capacity; s++)
        {
            if (t.Table.StateOf(s) == SlotState.Ready)
            {
                before[(int)t.Table.KeyOf(s).Low - 1] = (s, t.Table.PriorityOf(s));
            }
        }

        int evicted = t.Insert(id, priority);
        if (wasResident || !full)
        {
            Assert.Equal(-1, evicted);
            return;
        }

        if (evictable.Count == 0)
        {
            Assert.Equal(-2, evicted);
            return;
        }

        Assert.True(evicted >= 0, "a victim exists but none was chosen");
        Assert.Contains(before[evicted].Slot, evictable);
        Assert.Equal(lowest, before[evicted].Priority);
    }
}
