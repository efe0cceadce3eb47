using TierKv.Keys;
using TierKv.Nvme.CrashChild;
using TierKv.Store;
using TierKv.Tiers.Slots;

namespace TierKv.Nvme.Tests;

/// <summary>The SSD tier obeys pins and priorities, and a restart keeps them (trailers: priorities; the record of pins: pins).</summary>
public sealed class PinRecordTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;

    private static TieredStore Ssd(string dir, ChunkPriorities priorities) =>
        new([new NvmeTier(NvmeTierTests.Options(dir, chunks: 16))], priorities: priorities);

    private static void Put(TieredStore store, int first, int count, byte priority = ChunkPriorities.Normal)
    {
        for (int i = first; i < first + count; i++)
        {
            Assert.Equal(1, store.Store(Layout, [TestChunks.Key(i)], NvmeTierTests.Payload(i), priority: priority));
        }
    }

    [Fact]
    public void A_restarted_tier_keeps_its_pins_and_priorities_and_drops_expired_and_removed_pins()
    {
        using var dir = new TempDir();
        var clock = new Clock();
        using (var store = Ssd(dir.Path, new ChunkPriorities(clock)))
        {
            Put(store, 0, 2, ChunkPriorities.High);
            Put(store, 2, 4);
            Assert.Equal(3, store.Pin([TestChunks.Key(2), TestChunks.Key(3), TestChunks.Key(4)]));
            Assert.Equal(1, store.Pin([TestChunks.Key(5)], TimeSpan.FromMinutes(5)));
            Assert.Equal(1, store.Unpin([TestChunks.Key(4)]));
        }

        clock.Now += TimeSpan.FromMinutes(10); // the pin of chunk 5 ends while the daemon is down
        var restarted = new ChunkPriorities(clock);
        using (var store = Ssd(dir.Path, restarted))
        {
            var tier = (NvmeTier)store.Tiers[0];
            Assert.Equal(2, tier.PinsRestored);
            Assert.False(tier.PinRecordDamaged);
            Assert.True(restarted.IsPinned(TestChunks.Key(2)));
            Assert.True(restarted.IsPinned(TestChunks.Key(3)));
            Assert.False(restarted.IsPinned(TestChunks.Key(4)));
            Assert.False(restarted.IsPinned(TestChunks.Key(5)));
            Assert.Equal(ChunkPriorities.High, restarted.PriorityOf(TestChunks.Key(0)));
            Assert.Equal(2 * Layout.ChunkBytes, restarted.PinnedBytes);

            // Forty one-off chunks through a tier of sixteen: the pinned and the high-priority chunks stay, and the chunks
            // whose pin ended or was removed leave first (they are the oldest of normal priority).
            Put(store, 100, 40);
            foreach (int kept in (int[])[0, 1, 2, 3])
            {
                Assert.True(tier.Contains(TestChunks.Key(kept)), $"chunk {kept} was evicted");
            }

            Assert.False(tier.Contains(TestChunks.Key(4)) || tier.Contains(TestChunks.Key(5)));
        }
    }

    [Fact]
    public void A_damaged_record_of_pins_loses_the_pins_but_not_the_chunks()
    {
        using var dir = new TempDir();
        using (var store = Ssd(dir.Path, new ChunkPriorities()))
        {
            Put(store, 0, 2);
            Assert.Equal(2, store.Pin([TestChunks.Key(0), TestChunks.Key(1)]));
        }

        string record = Path.Combine(dir.Path, "tierkv-ssd.pins");
        var bytes = File.ReadAllBytes(record);
        bytes[20] ^= 0xFF;
        File.WriteAllBytes(record, bytes);
        var restarted = new ChunkPriorities();
        using (var store = Ssd(dir.Path, restarted))
        {
            var tier = (NvmeTier)store.Tiers[0];
            Assert.True(tier.PinRecordDamaged);
            Assert.Equal(0, restarted.PinnedChunks);
            Assert.Equal(2, tier.ChunkCount);
        }
    }

    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
