using TierKv.Keys;
using TierKv.Tiers;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests;

public class HostMemoryTierTests
{
    private static ChunkKey K(int i) => new((UInt128)(uint)i + 1000);

    [Fact]
    public void Pool_is_page_aligned_and_cut_into_slots()
    {
        using var t = Dram(8);
        Assert.Equal(8, t.SlotCount);
        Assert.Equal(4096, t.SlotBytes);
        Assert.Equal(0, t.PoolPointer % 4096);
        Assert.Equal(8 * 4096, t.CapacityBytes);
    }

    [Fact]
    public void Stored_chunk_reads_back_exactly()
    {
        using var t = Dram(4);
        var p = PayloadFor(K(1));
        Assert.Equal(TierWriteStatus.Stored, t.Write(Tiny, K(1), null, p));
        Assert.Equal(TierWriteStatus.AlreadyPresent, t.Write(Tiny, K(1), null, p));
        var dst = new byte[Tiny.ChunkBytes];
        Assert.True(t.TryRead(K(1), dst));
        Assert.Equal(p, dst);
        Assert.False(t.TryRead(K(2), dst));
        Assert.Equal(Tiny.ChunkBytes, t.UsedBytes);
    }

    [Fact]
    public void Capacity_is_never_exceeded_and_lru_evicts_the_least_recent()
    {
        using var t = Dram(3);
        for (int i = 0; i < 3; i++)
        {
            t.Write(Tiny, K(i), null, PayloadFor(K(i)));
        }

        Assert.True(t.TryRead(K(0), new byte[Tiny.ChunkBytes])); // 0 is now most recent; 1 is least
        t.Write(Tiny, K(3), null, PayloadFor(K(3)));
        Assert.Equal(3, t.ChunkCount);
        Assert.False(t.Contains(K(1)));
        Assert.True(t.Contains(K(0)));
        Assert.True(t.Contains(K(2)));
        Assert.True(t.Contains(K(3)));
    }

    [Fact]
    public void Lru_victims_match_a_reference_model()
    {
        var rnd = new Random(7);
        using var t = Dram(5);
        var model = new List<int>(); // least recent first
        var dst = new byte[Tiny.ChunkBytes];
        for (int step = 0; step < 3000; step++)
        {
            int k = rnd.Next(12);
            if (rnd.Next(2) == 0)
            {
                bool hit = t.TryRead(K(k), dst);
                Assert.Equal(model.Contains(k), hit);
                if (hit)
                {
                    Assert.Equal(PayloadFor(K(k)), dst);
                    model.Remove(k);
                    model.Add(k);
                }
            }
            else if (!model.Contains(k))
            {
                Assert.Equal(TierWriteStatus.Stored, t.Write(Tiny, K(k), null, PayloadFor(K(k))));
                if (model.Count == 5)
                {
                    model.RemoveAt(0);
                }

                model.Add(k);
            }

            Assert.Equal(model.Count, t.ChunkCount);
            Assert.True(t.ChunkCount <= 5);
            foreach (var m in model)
            {
                Assert.True(t.Contains(K(m)));
            }
        }
    }

    [Fact]
    public void A_chunk_being_read_is_never_reclaimed_under_the_reader()
    {
        using var t = Dram(2);
        var p0 = PayloadFor(K(0));
        t.Write(Tiny, K(0), null, p0);
        t.Write(Tiny, K(1), null, PayloadFor(K(1)));
        Assert.True(t.TryAcquire(K(0), out var lease));
        using (lease)
        {
            // K(0) is pinned; new writes must evict around it.
            for (int i = 2; i < 10; i++)
            {
                Assert.Equal(TierWriteStatus.Stored, t.Write(Tiny, K(i), null, PayloadFor(K(i))));
                Assert.True(lease.Span.SequenceEqual(p0));
            }

            Assert.True(t.Contains(K(0)));
        }
    }

    [Fact]
    public void Writes_are_refused_not_blocked_when_every_slot_is_pinned()
    {
        using var t = Dram(1);
        t.Write(Tiny, K(0), null, PayloadFor(K(0)));
        Assert.True(t.TryAcquire(K(0), out var lease));
        Assert.Equal(TierWriteStatus.NoSpace, t.Write(Tiny, K(1), null, PayloadFor(K(1))));
        lease.Dispose();
        Assert.Equal(TierWriteStatus.Stored, t.Write(Tiny, K(1), null, PayloadFor(K(1))));
    }

    [Fact]
    public void Removing_a_pinned_chunk_hides_it_at_once_and_frees_it_after_the_reader()
    {
        using var t = Dram(1);
        var p = PayloadFor(K(0));
        t.Write(Tiny, K(0), null, p);
        Assert.True(t.TryAcquire(K(0), out var lease));
        Assert.True(t.Remove(K(0)));
        Assert.False(t.Contains(K(0)));
        Assert.Equal(TierWriteStatus.NoSpace, t.Write(Tiny, K(1), null, PayloadFor(K(1))));
        Assert.True(lease.Span.SequenceEqual(p));
        lease.Dispose();
        Assert.Equal(TierWriteStatus.Stored, t.Write(Tiny, K(1), null, PayloadFor(K(1))));
    }

    [Fact]
    public void Prefix_aware_lru_evicts_descendants_before_ancestors()
    {
        using var t = Dram(3, "lru-prefix");
        // A chain 0 <- 1 <- 2, written in order: plain LRU would evict 0 (the root) first.
        t.Write(Tiny, K(0), null, PayloadFor(K(0)));
        t.Write(Tiny, K(1), K(0), PayloadFor(K(1)));
        t.Write(Tiny, K(2), K(1), PayloadFor(K(2)));
        t.Write(Tiny, K(10), null, PayloadFor(K(10)));
        Assert.False(t.Contains(K(2)));
        Assert.True(t.Contains(K(0)));
        Assert.True(t.Contains(K(1)));
        t.Write(Tiny, K(11), null, PayloadFor(K(11)));
        Assert.False(t.Contains(K(1)));
        Assert.True(t.Contains(K(0)));

        using var plain = Dram(3, "lru");
        plain.Write(Tiny, K(0), null, PayloadFor(K(0)));
        plain.Write(Tiny, K(1), K(0), PayloadFor(K(1)));
        plain.Write(Tiny, K(2), K(1), PayloadFor(K(2)));
        plain.Write(Tiny, K(10), null, PayloadFor(K(10)));
        Assert.False(plain.Contains(K(0)));
    }

    [Fact]
    public void Eviction_sink_sees_the_victims_bytes_intact()
    {
        var sink = new RecordingSink();
        using var t = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 4096, SlotBytes = Tiny.ChunkBytes }, evictionSink: sink);
        t.Write(Tiny, K(0), null, PayloadFor(K(0)));
        t.Write(Tiny, K(1), K(0), PayloadFor(K(1)));
        Assert.Single(sink.Seen);
        Assert.Equal(K(0), sink.Seen[0].Key);
        Assert.Equal(PayloadFor(K(0)), sink.Seen[0].Payload);
    }

    [Fact]
    public void Wrong_sizes_and_capacities_are_rejected_and_nothing_is_stored()
    {
        using var t = Dram(2);
        Assert.Throws<ArgumentException>(() => t.Write(Tiny, K(0), null, new byte[5000]));
        Assert.Throws<ArgumentException>(() => t.Write(Tiny, K(0), null, []));
        Assert.Equal(0, t.ChunkCount);
        t.Write(Tiny, K(1), null, PayloadFor(K(1)));
        Assert.Throws<ArgumentException>(() => t.TryRead(K(1), new byte[10]));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 100, SlotBytes = 128 }));
        Assert.Contains("CapacityBytes", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 1 << 20, SlotBytes = 0 }));
        Assert.Throws<ArgumentException>(() => new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 1 << 20, SlotBytes = 128, EvictionPolicy = "random-guess" }));
    }

    private sealed class RecordingSink : IEvictionSink
    {
        public List<(ChunkKey Key, byte[] Payload)> Seen { get; } = [];

        public void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version, ref bool roomHeld) => Seen.Add((key, payload.ToArray()));
    }
}
