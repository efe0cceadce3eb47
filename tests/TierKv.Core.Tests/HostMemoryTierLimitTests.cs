using TierKv.Keys;
using TierKv.Tiers;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests;

public class HostMemoryTierLimitTests
{
    private static ChunkKey K(int i) => new((UInt128)(uint)i + 5000);

    private static void Fill(HostMemoryTier t, int from, int count)
    {
        for (int i = from; i < from + count; i++)
        {
            t.Write(Tiny, K(i), null, PayloadFor(K(i)));
        }
    }

    [Fact]
    public void A_lowered_limit_is_reached_by_trimming_and_writes_never_grow_past_it()
    {
        using var t = Dram(8);
        Fill(t, 0, 8);
        t.SetSlotLimit(3);
        Assert.Equal(8, t.ChunkCount); // lowering evicts nothing by itself
        Assert.Equal(3 * t.SlotBytes, t.CapacityBytes);
        Fill(t, 100, 4); // at or over the limit a write reuses a victim's slot
        Assert.Equal(8, t.SlotsInUse);
        Assert.Equal(5, t.TrimToLimit());
        Assert.Equal(3, t.SlotsInUse);
        Assert.Equal(3, t.ChunkCount);
        Assert.True(t.Contains(K(103)) && t.Contains(K(102)) && t.Contains(K(101))); // LRU kept the newest
        Fill(t, 200, 5);
        Assert.Equal(3, t.ChunkCount);
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("s3fifo")]
    [InlineData("arc")]
    [InlineData("alfu")]
    [InlineData("leader")]
    [InlineData("lc")]
    [InlineData("hedge")]
    [InlineData("hedge-prefix")]
    public void Every_policy_follows_a_lowered_and_raised_limit(string policy)
    {
        using var t = Dram(16, policy);
        Fill(t, 0, 16);
        t.SetSlotLimit(5);
        Assert.Equal(11, t.TrimToLimit());
        for (int round = 0; round < 3; round++)
        {
            Fill(t, 100 + (round * 20), 12);
            Fill(t, 100, 4); // some come back
            Assert.Equal(5, t.ChunkCount);
        }

        t.SetSlotLimit(9);
        Fill(t, 300, 12);
        Assert.Equal(9, t.ChunkCount);
        Assert.Equal(9 * t.SlotBytes, t.CapacityBytes);
    }

    [Fact]
    public void Trimming_is_gradual_when_bounded()
    {
        using var t = Dram(8);
        Fill(t, 0, 8);
        t.SetSlotLimit(2);
        Assert.Equal(2, t.TrimToLimit(2));
        Assert.Equal(6, t.ChunkCount);
        Assert.Equal(4, t.TrimToLimit());
        Assert.Equal(0, t.TrimToLimit());
    }

    [Fact]
    public void A_raised_limit_admits_more()
    {
        using var t = Dram(8);
        t.SetSlotLimit(2);
        Fill(t, 0, 6);
        Assert.Equal(2, t.ChunkCount);
        t.SetSlotLimit(5);
        Fill(t, 10, 6);
        Assert.Equal(5, t.ChunkCount);
    }

    [Fact]
    public void A_leased_chunk_is_never_dropped_when_the_limit_is_lowered()
    {
        using var t = Dram(8);
        Fill(t, 0, 8);
        Assert.True(t.TryAcquire(K(0), out var lease)); // K(0) is the least recent of all: the first victim otherwise
        var expected = PayloadFor(K(0));
        t.SetSlotLimit(1);
        Assert.Equal(7, t.TrimToLimit());
        Assert.True(t.Contains(K(0)));
        Assert.Equal(1, t.ChunkCount);
        Assert.Equal(expected, lease.Span.ToArray());

        // Writes at the limit with only leased chunks resident are refused; the leased chunk stays.
        Assert.Equal(TierWriteStatus.NoSpace, t.Write(Tiny, K(50), null, PayloadFor(K(50))));
        Assert.Equal(expected, lease.Span.ToArray());
        lease.Dispose();
        Assert.Equal(TierWriteStatus.Stored, t.Write(Tiny, K(50), null, PayloadFor(K(50))));
        Assert.False(t.Contains(K(0)));
        Assert.Equal(1, t.SlotsInUse);
    }

    [Fact]
    public void A_chunk_leased_during_its_hand_over_is_freed_by_its_last_reader()
    {
        using var t = Dram(4);
        var sink = new LeasingSink(t);
        t.EvictionSink = sink;
        Fill(t, 0, 4);
        t.SetSlotLimit(3);

        // The first victim (K(0)) is leased while it is handed down: it leaves the index but keeps its slot and bytes
        // until released; the trim takes the next victim's slot meanwhile.
        Assert.Equal(1, t.TrimToLimit());
        Assert.Equal([K(0), K(1)], sink.Handed);
        Assert.False(t.Contains(K(0)));
        Assert.Equal(2, t.ChunkCount);
        Assert.Equal(3, t.SlotsInUse);
        Fill(t, 10, 3); // writes reuse victims' slots, never the leased one
        Assert.Equal(PayloadFor(K(0)), sink.Lease.Span.ToArray());
        sink.Lease.Dispose();
        Assert.Equal(2, t.SlotsInUse);
        Assert.Equal(0, t.TrimToLimit());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    public void A_limit_outside_the_pool_is_refused(int limit)
    {
        using var t = Dram(8);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => t.SetSlotLimit(limit));
        Assert.Contains("1 to its pool's 8 slots", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Leases the first chunk handed to it, as a reader arriving mid hand-over would.</summary>
    private sealed class LeasingSink(HostMemoryTier tier) : IEvictionSink
    {
        public List<ChunkKey> Handed { get; } = [];

        public ChunkLease Lease { get; private set; }

        public void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version, ref bool roomHeld)
        {
            Handed.Add(key);
            if (Handed.Count == 1)
            {
                Assert.True(tier.TryAcquire(key, out var lease));
                Lease = lease;
            }
        }
    }
}
