using TierKv.Tiers.Slots;
using System.Collections.Concurrent;
using CsCheck;
using TierKv.Keys;
using TierKv.Tests;
using TierKv.Tiers;
using Xunit.Abstractions;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests;

public class SlotIndexTests(ITestOutputHelper output)
{
    // Homes at both ends of a table of up to 32 cells, so probe chains collide and wrap around; the high halves keep
    // the keys distinct.
    private static readonly ulong[] Homes = [0, 1, 2, 3, 29, 30, 31];

    private static readonly ChunkKey[] Colliding = [.. Enumerable.Range(0, 64).Select(i => KeyWithHome((ulong)i, (int)Homes[i % Homes.Length], 32))];

    private static ChunkKey CollidingKey(int i) => Colliding[i];

    /// <summary>A key (distinct for each <paramref name="seed"/>) whose home in a table of <paramref name="cells"/> cells is <paramref name="home"/>.</summary>
    private static ChunkKey KeyWithHome(ulong seed, int home, int cells)
    {
        for (ulong low = 0; ; low++)
        {
            var key = new ChunkKey(new UInt128((seed + 1) * 0xC2B2AE3D27D4EB4FUL, low));
            if ((int)(SlotIndex.Mix(key) & (uint)(cells - 1)) == home)
            {
                return key;
            }
        }
    }

    [Theory]
    [InlineData(1, 4)]
    [InlineData(2, 4)]
    [InlineData(3, 8)]
    [InlineData(4, 8)]
    [InlineData(1000, 2048)]
    [InlineData(1024, 2048)]
    public void Table_is_a_power_of_two_at_least_twice_the_slot_count(int slots, int cells)
    {
        var index = new SlotIndex(new ChunkKey[slots]);
        Assert.Equal(cells, index.TableSize);
        Assert.Equal(slots, index.Capacity);
    }

    [Fact]
    public void Colliding_keys_share_their_home_cell()
    {
        var index = new SlotIndex(new ChunkKey[16]);
        Assert.Equal(index.HomeOf(CollidingKey(0)), index.HomeOf(CollidingKey(7)));
        Assert.Equal(index.HomeOf(CollidingKey(4)), index.HomeOf(CollidingKey(11)));
        Assert.Equal(index.TableSize - 3, index.HomeOf(CollidingKey(4)));
    }

    [Fact]
    public void Matches_a_dictionary_model_over_random_adds_removes_and_lookups()
    {
        // Ops: 0 add (into a free slot), 1 remove by key, 2 remove by slot, 3 look up. 21 keys over 7 home cells.
        const int universe = 21;
        Gen.Select(Gen.Int[1, 16], Gen.Select(Gen.Int[0, 3], Gen.Int[0, universe - 1]).Array[1, 300]).Sample(sc =>
        {
            var (capacity, ops) = sc;
            var keys = new ChunkKey[capacity];
            var index = new SlotIndex(keys);
            var model = new Dictionary<ChunkKey, int>();
            var free = new Stack<int>(Enumerable.Range(0, capacity).Reverse());
            foreach (var (op, k) in ops)
            {
                var key = CollidingKey(k);
                switch (op)
                {
                    case 0:
                        if (free.Count == 0)
                        {
                            break;
                        }

                        // The tier writes the slot's key before publishing, even when publishing then fails.
                        int slot = free.Peek();
                        keys[slot] = key;
                        if (model.ContainsKey(key))
                        {
                            Assert.Throws<InvalidOperationException>(() => index.Add(key, slot));
                        }
                        else
                        {
                            index.Add(key, free.Pop());
                            model.Add(key, slot);
                        }

                        break;
                    case 1:
                        bool had = model.Remove(key, out int removed);
                        Assert.Equal(had, index.Remove(key));
                        if (had)
                        {
                            free.Push(removed);
                        }

                        break;
                    case 2:
                        int s = k % capacity;
                        var owner = model.Where(e => e.Value == s).Select(e => (ChunkKey?)e.Key).FirstOrDefault();
                        Assert.Equal(owner.HasValue, index.RemoveSlot(s));
                        if (owner is { } o)
                        {
                            model.Remove(o);
                            free.Push(s);
                        }

                        break;
                    default:
                        Assert.Equal(model.TryGetValue(key, out int expected), index.TryGet(key, out int got));
                        if (model.ContainsKey(key))
                        {
                            Assert.Equal(expected, got);
                        }

                        break;
                }

                // Every key, after every step: a broken probe chain would show as a miss here.
                Assert.Equal(model.Count, index.Count);
                for (int i = 0; i < universe; i++)
                {
                    var q = CollidingKey(i);
                    Assert.Equal(model.TryGetValue(q, out int want), index.TryGet(q, out int have));
                    Assert.Equal(model.ContainsKey(q) ? want : -1, have);
                    Assert.Equal(model.ContainsKey(q), index.Contains(q));
                }
            }

            Assert.Equal(model.Keys.Order(), index.SnapshotKeys().Order());
        });
    }

    [Fact]
    public void Clear_empties_the_index_and_it_fills_again()
    {
        var keys = new ChunkKey[8];
        var index = new SlotIndex(keys);
        for (int s = 0; s < keys.Length; s++)
        {
            keys[s] = CollidingKey(s);
            index.Add(keys[s], s);
        }

        Assert.Equal(8, index.Count);
        index.Clear();
        Assert.Equal(0, index.Count);
        Assert.Empty(index.SnapshotKeys());
        Assert.False(index.Contains(keys[3]));
        index.Add(keys[3], 3);
        Assert.True(index.TryGet(keys[3], out int slot));
        Assert.Equal(3, slot);
    }

    [Fact]
    public void Readers_racing_one_writer_never_get_a_wrong_slot_or_a_phantom_and_find_every_kept_key_afterwards()
    {
        // What a lock-free reader is promised while one writer adds and removes: no exception, no hang, a found key's
        // slot held that key, a key never added is never found. A key that stays may be missed while a removal shifts
        // it (benign), so completeness is checked once the writer is done. Every key's home is one of 16 cells, so
        // chains are long and removals move the kept keys often.
        const int capacity = 64;
        const int kept = 16;
        const int writes = 200_000;
        static ChunkKey Key(ulong group, int i) => KeyWithHome((group << 20) + (ulong)i, i % 16, 128);
        var keys = new ChunkKey[capacity];
        var index = new SlotIndex(keys);
        var keptKeys = Enumerable.Range(0, kept).Select(i => Key(1, i)).ToArray();
        var churnKeys = Enumerable.Range(0, 2 * (capacity - kept)).Select(i => Key(2, i)).ToArray();
        var absentKeys = Enumerable.Range(0, 16).Select(i => Key(3, i)).ToArray();
        var present = new int[churnKeys.Length];
        Array.Fill(present, -1);
        var free = new Stack<int>(Enumerable.Range(kept, capacity - kept));

        // Churn keys first, so the kept keys land away from their homes and removals shift them back and forth.
        for (int c = 0; c < capacity - kept - 8; c++)
        {
            int s = free.Pop();
            keys[s] = churnKeys[c];
            index.Add(churnKeys[c], s);
            present[c] = s;
        }

        for (int s = 0; s < kept; s++)
        {
            keys[s] = keptKeys[s];
            index.Add(keys[s], s);
        }

        var gate = new object();
        var failures = new ConcurrentQueue<string>();
        int done = 0;
        var writer = new Thread(() =>
        {
            var rnd = new Random(1);
            for (int op = 0; op < writes; op++)
            {
                int c = rnd.Next(churnKeys.Length);
                lock (gate)
                {
                    if (present[c] >= 0)
                    {
                        bool removed = op % 2 == 0 ? index.Remove(churnKeys[c]) : index.RemoveSlot(present[c]);
                        if (!removed)
                        {
                            failures.Enqueue($"the writer could not remove churn key {c}");
                        }

                        free.Push(present[c]);
                        present[c] = -1;
                    }
                    else if (free.Count > 0)
                    {
                        int s = free.Pop();
                        keys[s] = churnKeys[c];
                        index.Add(churnKeys[c], s);
                        present[c] = s;
                    }
                }
            }

            Volatile.Write(ref done, 1);
        });

        var missesWhileWriting = new long[2];
        var passesWhileWriting = new long[2];
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            try
            {
                while (true)
                {
                    // The last pass starts after the writer finished: there every kept key must be found.
                    bool last = Volatile.Read(ref done) == 1;
                    for (int i = 0; i < kept; i++)
                    {
                        if (index.TryGet(keptKeys[i], out int s))
                        {
                            if (s != i)
                            {
                                failures.Enqueue($"kept key {i} found at slot {s}");
                            }
                        }
                        else if (last)
                        {
                            failures.Enqueue($"kept key {i} missing after the writer finished");
                        }
                        else
                        {
                            missesWhileWriting[r]++;
                        }
                    }

                    foreach (var a in absentKeys)
                    {
                        if (index.Contains(a))
                        {
                            failures.Enqueue($"key {a} was never added but was found");
                        }
                    }

                    foreach (var c in churnKeys)
                    {
                        if (index.TryGet(c, out int s) && s < kept)
                        {
                            failures.Enqueue($"churn key {c} found in kept slot {s}");
                        }
                    }

                    int count = index.Count;
                    if (count < kept || count > capacity)
                    {
                        failures.Enqueue($"count {count} out of range");
                    }

                    if (last)
                    {
                        break;
                    }

                    passesWhileWriting[r]++;
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex.ToString());
            }
        })).ToArray();

        foreach (var t in readers)
        {
            t.Start();
        }

        writer.Start();
        writer.Join();
        foreach (var t in readers)
        {
            t.Join();
        }

        output.WriteLine($"passes while writing: {passesWhileWriting[0]} and {passesWhileWriting[1]}; kept keys missed during a shift (benign): {missesWhileWriting[0]} and {missesWhileWriting[1]}");
        Assert.Empty(failures);
        Assert.Equal(kept + present.Count(s => s >= 0), index.Count);
        for (int c = 0; c < churnKeys.Length; c++)
        {
            Assert.Equal(present[c] >= 0, index.TryGet(churnKeys[c], out int s));
            Assert.Equal(present[c], s);
        }
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("leader-prefix")]
    [InlineData("lc")]
    public void Writing_new_chunks_into_a_full_dram_tier_allocates_nothing(string policy)
    {
        Skip.IfNot(OptimizedBuild.Of(typeof(HostMemoryTier)), OptimizedBuild.SkipReason);
        const int slots = 64;
        using var tier = Dram(slots, policy);
        var keys = new ChunkKey[slots * 40];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = new ChunkKey(new UInt128((ulong)i * 0xC2B2AE3D27D4EB4FUL, (ulong)(i + 1) * 0x9E3779B97F4A7C15UL));
        }

        var payload = PayloadFor(keys[0]);
        int next = 0;

        // Warm up: fill and evict a few times, so the policy's structures and this call path are at their steady state.
        while (next < slots * 4)
        {
            Write(next++);
        }

        long allocated = long.MaxValue;
        for (int pass = 0; pass < 3; pass++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < slots * 8; i++)
            {
                Write(next++);
                if (!tier.Contains(keys[next - 1]))
                {
                    Assert.Fail("a new chunk was not stored");
                }
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);
        Assert.Equal(slots, tier.ChunkCount);

        void Write(int i)
        {
            // Chains of 8 chunks, so the prefix-aware policies see parents.
            ChunkKey? parent = i % 8 == 0 ? null : keys[i - 1];
            if (tier.Write(Tiny, keys[i], parent, payload) != TierWriteStatus.Stored)
            {
                Assert.Fail($"chunk {i} was not stored");
            }
        }
    }
}
