using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers;
using TierKv.Tiers.Slots;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests.Priorities;

public class PinTests
{
    [Fact]
    public void A_pinned_chunk_is_never_evicted_and_its_pin_ends_at_its_time_to_live_while_the_chunk_stays()
    {
        var clock = new ManualClock();
        var t = new PriorityTable(4, "lru", clock);
        for (int id = 0; id < 4; id++)
        {
            t.Insert(id, 0);
        }

        Assert.Equal(1, t.Priorities.Pin([PriorityTable.Key(0)], TimeSpan.FromSeconds(10)));
        Assert.Equal(1, t.Priorities.PinnedChunks);
        Assert.Equal(PriorityTable.ChunkLength, t.Priorities.PinnedBytes);
        for (int id = 10; id < 20; id++)
        {
            Assert.NotEqual(0, t.Insert(id, 0));
        }

        Assert.True(t.IsResident(0));
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, t.Priorities.PinnedChunks);
        Assert.True(t.IsResident(0), "the pin ends, the value stays");
        Assert.Equal(0, t.Insert(20, 0)); // the oldest chunk, evictable again
    }

    [Fact]
    public void Unpin_makes_a_chunk_evictable_and_answers_how_many_were_pinned()
    {
        var t = new PriorityTable(2, "s3fifo");
        t.Insert(0, 0);
        t.Insert(1, 0);
        Assert.Equal(2, t.Priorities.Pin([PriorityTable.Key(0), PriorityTable.Key(1), PriorityTable.Key(7)], null));
        Assert.Equal(-2, t.Insert(2, 0));
        Assert.Equal(1, t.Priorities.Unpin([PriorityTable.Key(1), PriorityTable.Key(7)]));
        Assert.Equal(0, t.Priorities.Unpin([PriorityTable.Key(1)]));
        Assert.Equal(1, t.Insert(2, 0));
        Assert.True(t.IsResident(0));
    }

    [Fact]
    public void A_pin_beyond_the_limit_fails_naming_the_limit_and_the_bytes_and_pins_nothing()
    {
        var t = new PriorityTable(8, "lru");
        for (int id = 0; id < 4; id++)
        {
            t.Insert(id, 0);
        }

        Assert.Equal(2, t.Priorities.Pin([PriorityTable.Key(0), PriorityTable.Key(1)], null, maxPinnedBytes: 250));
        var ex = Assert.Throws<PinLimitExceededException>(() => t.Priorities.Pin([PriorityTable.Key(2), PriorityTable.Key(3)], null, maxPinnedBytes: 250));
        Assert.Contains("250 bytes", ex.Message);
        Assert.Contains("200 more bytes", ex.Message);
        Assert.Equal(200, ex.PinnedBytes);
        Assert.False(t.Priorities.IsPinned(PriorityTable.Key(2)));

        // Re-pinning what is pinned (a new deadline) adds no bytes.
        Assert.Equal(2, t.Priorities.Pin([PriorityTable.Key(0), PriorityTable.Key(1)], TimeSpan.FromMinutes(1), maxPinnedBytes: 250));
    }

    [Fact]
    public void A_deleted_pinned_chunk_no_longer_counts()
    {
        var t = new PriorityTable(4, "lru");
        t.Insert(0, 0);
        t.Priorities.Pin([PriorityTable.Key(0)], null);
        t.Delete(0);
        Assert.Equal(0, t.Priorities.PinnedChunks);
        Assert.Equal(0, t.Priorities.Count);
    }

    [Fact]
    public void A_pin_needs_a_positive_time_to_live()
    {
        var t = new PriorityTable(4, "lru");
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Priorities.Pin([PriorityTable.Key(0)], TimeSpan.Zero));
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("hedge")]
    [InlineData("s3fifo-prefix")]
    public void A_pinned_system_prompt_survives_a_scan_of_ten_times_dram_and_its_sharers_hit_their_whole_prefix(string policy)
    {
        // The target: a 10k-token system prompt (40 chunks of 256 tokens) in a DRAM of 400 chunks, a scan of
        // 4,000 one-off chunks (ten times DRAM), and a request sharing the prompt after every 100 of them.
        var layout = new KvLayout("test/prompt", 1, 1, 4, KvElementType.Float16, tokensPerChunk: 256);
        const int promptTokens = 10_240, dramChunks = 400, scanChunks = 10 * dramChunks;
        using var store = new TieredStore([new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = dramChunks * (long)layout.ChunkBytes, SlotBytes = layout.ChunkBytes, EvictionPolicy = policy })]);
        var prompt = Tokens(promptTokens, seed: 7);
        var promptKeys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, prompt);
        Assert.Equal(40, store.Store(layout, promptKeys, new byte[promptKeys.Length * layout.ChunkBytes], priority: ChunkPriorities.High));
        Assert.Equal(40, store.Pin(promptKeys));

        var chunk = new byte[layout.ChunkBytes];
        long requested = 0, hit = 0;
        for (int i = 0; i < scanChunks; i++)
        {
            store.Store(layout, [new ChunkKey(new UInt128(0x5CA9, (ulong)i))], chunk);
            if (i % 100 == 99)
            {
                // A request: the shared prompt, then a question of its own.
                var tokens = prompt.Concat(Tokens(300, seed: i)).ToArray();
                requested += promptTokens;
                hit += store.Lookup(layout, TenantSalt.None, tokens);
            }
        }

        Assert.Equal(scanChunks / 100 * (long)promptTokens, requested);
        Assert.Equal(requested, hit); // a prefix hit ratio of exactly 1
        Assert.True(store.Tiers[0].ChunkCount == dramChunks, "the scan filled DRAM around the prompt");
    }

    [Fact]
    public void The_store_limits_pins_to_half_its_dram_by_default()
    {
        using var store = new TieredStore([Dram(8)]);
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(4 * 6));
        store.Store(Tiny, keys, PayloadForPrefix(keys));
        Assert.Equal(8 * 4096L / 2, store.MaxPinnedBytes);
        Assert.Equal(6, store.Pin(keys));
        using var small = new TieredStore([Dram(8)], options: new TieredStoreOptions { MaxPinnedBytes = Tiny.ChunkBytes });
        small.Store(Tiny, keys, PayloadForPrefix(keys));
        Assert.Throws<PinLimitExceededException>(() => small.Pin(keys));
    }

    [Fact]
    public void The_store_reports_its_pins_and_their_limit_on_the_tierkv_meter()
    {
        var metrics = new TierKv.Metrics.TierKvMetrics();
        var keys = PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(4 * 6));
        var seen = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == metrics.Meter && instrument.Name.StartsWith("tierkv.store.pinned", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            Assert.Equal("store", tags[0].Key);
            seen[instrument.Name + "/" + tags[0].Value] = value;
        });
        listener.Start();
        using (var store = new TieredStore([Dram(8)], metrics))
        {
            store.Store(Tiny, keys, PayloadForPrefix(keys));
            Assert.Equal(3, store.Pin(keys[..3]));
            listener.RecordObservableInstruments();
            Assert.Equal(3, seen["tierkv.store.pinned_chunks/dram"]);
            Assert.Equal(3 * (long)Tiny.ChunkBytes, seen["tierkv.store.pinned_bytes/dram"]);
            Assert.Equal(store.MaxPinnedBytes, seen["tierkv.store.pinned_bytes_limit/dram"]);
            Assert.Equal(1, store.Unpin(keys[..1]));
            listener.RecordObservableInstruments();
            Assert.Equal(2, seen["tierkv.store.pinned_chunks/dram"]);
        }

        // A disposed store is no longer reported.
        seen.Clear();
        listener.RecordObservableInstruments();
        Assert.Empty(seen);
    }
}
