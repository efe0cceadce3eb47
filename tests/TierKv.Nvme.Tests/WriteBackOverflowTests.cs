using System.Diagnostics;
using TierKv.Keys;
using TierKv.Nvme.CrashChild;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>
/// What the tiered store does when DRAM evicts into a full SSD write-behind queue (<see cref="WriteBackOverflow"/>).
/// The tests make the queue full deterministically by holding all of its room themselves
/// (<see cref="IWriteBehindTier.ReserveWriteBehind"/>), then give it back; no test sleeps to synchronise, and every
/// wait for the store has a timeout so a hang fails the test instead of stalling the suite.
/// </summary>
public sealed class WriteBackOverflowTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;
    private static readonly int Cb = Layout.ChunkBytes;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Wait_loses_nothing_when_a_burst_of_concurrent_stores_overflows_the_write_behind_queue()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = Patience });
        var ssd = (NvmeTier)store.Tiers[1];
        using var held = HeldRoom.TakeAll(ssd);

        // 8 requests x 6 chunks into 2 DRAM slots: 46 chunks must go to the SSD (evicted, or sent below while every DRAM
        // slot is busy), all while the queue has no room at all.
        var burst = new Task<int>[8];
        for (int r = 0; r < burst.Length; r++)
        {
            int first = r * 100;
            burst[r] = Task.Run(async () => await store.StoreAsync(Layout, TieredStorePolicyTests.Keys(6, first), TieredStorePolicyTests.Payloads(6, first)));
        }

        Assert.True(SpinWait.SpinUntil(() => store.WriteBackWaits > 0, Patience), "no store waited for room");
        Assert.DoesNotContain(burst, t => t.IsCompleted && !t.IsCompletedSuccessfully);
        held.GiveBack();

        foreach (var t in burst)
        {
            Assert.Equal(6, await t.WaitAsync(Patience));
        }

        await store.DrainAsync().WaitAsync(Patience);
        Assert.Equal(0, store.ShedWrites);
        Assert.Equal(0, store.WriteBackWaitTimeouts);
        Assert.Equal(2, store.Tiers[0].ChunkCount);
        Assert.Equal(46, ssd.ChunkCount); // every other chunk: evicted and written back, or sent below a busy DRAM tier
        await AssertEveryChunkServedExactlyAsync(store, requests: 8, chunks: 6);
    }

    [Fact]
    public async Task Wait_loses_nothing_when_synchronous_stores_from_many_threads_overflow_the_queue()
    {
        // Synchronous Store: each storing thread blocks (bounded) for room before its DRAM write, or in DRAM's eviction
        // sink when another thread took the free slot first; either way outside DRAM's lock.
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = Patience });
        var ssd = (NvmeTier)store.Tiers[1];
        using var held = HeldRoom.TakeAll(ssd);
        var writers = new Task<int>[4];
        for (int r = 0; r < writers.Length; r++)
        {
            int first = r * 100;
            writers[r] = Task.Factory.StartNew(() => store.Store(Layout, TieredStorePolicyTests.Keys(6, first), TieredStorePolicyTests.Payloads(6, first)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        Assert.True(SpinWait.SpinUntil(() => store.WriteBackWaits > 0, Patience), "no store waited for room");
        held.GiveBack();
        foreach (var w in writers)
        {
            Assert.Equal(6, await w.WaitAsync(Patience));
        }

        await store.DrainAsync().WaitAsync(Patience);
        Assert.Equal(0, store.ShedWrites);
        Assert.Equal(24, store.Tiers[0].ChunkCount + ssd.ChunkCount); // DRAM holds 2, the SSD every other chunk
        await AssertEveryChunkServedExactlyAsync(store, requests: 4, chunks: 6);
    }

    [Fact]
    public async Task Shed_drops_and_counts_every_write_back_that_finds_the_queue_full()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Shed });
        var ssd = (NvmeTier)store.Tiers[1];
        using var held = HeldRoom.TakeAll(ssd);
        var burst = new Task<int>[8];
        for (int r = 0; r < burst.Length; r++)
        {
            int first = r * 100;
            burst[r] = Task.Run(async () => await store.StoreAsync(Layout, TieredStorePolicyTests.Keys(6, first), TieredStorePolicyTests.Payloads(6, first)));
        }

        // Shed never waits: the burst completes while the queue is still full, and every chunk that is not among the
        // 2 left in DRAM is gone (evicted into the full queue, or sent below a DRAM tier whose slots were all busy).
        foreach (var t in burst)
        {
            Assert.InRange(await t.WaitAsync(Patience), 0, 6);
        }

        held.GiveBack();
        await store.DrainAsync().WaitAsync(Patience);
        Assert.Equal(2, store.Tiers[0].ChunkCount);
        Assert.Equal(46, store.ShedWrites);
        Assert.Equal(46, ssd.ShedWrites);
        Assert.Equal(0, store.WriteBackWaits);
        Assert.Equal(0, ssd.ChunkCount);
    }

    [Fact]
    public async Task Wait_serves_every_chunk_of_a_real_burst_far_larger_than_the_queue_and_sheds_none()
    {
        // No room held: the SSD's own writes drain its 2-buffer queue while 8 requests x 12 chunks (96, 48 times the
        // queue) pour into 2 DRAM slots.
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = Patience });
        var ssd = (NvmeTier)store.Tiers[1];
        var burst = Burst(store, requests: 8, chunks: 12);
        foreach (var t in burst)
        {
            Assert.Equal(12, await t.WaitAsync(Patience));
        }

        await store.DrainAsync().WaitAsync(Patience);
        Assert.Equal(0, store.ShedWrites);
        Assert.Equal(0, ssd.ShedWrites);
        Assert.Equal(0, store.WriteBackWaitTimeouts);
        await AssertEveryChunkServedExactlyAsync(store, requests: 8, chunks: 12);
    }

    [Fact]
    public async Task Shed_counts_every_chunk_of_a_real_burst_that_neither_tier_kept()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Shed });
        var ssd = (NvmeTier)store.Tiers[1];
        foreach (var t in Burst(store, requests: 8, chunks: 12))
        {
            Assert.InRange(await t.WaitAsync(Patience), 0, 12);
        }

        await store.DrainAsync().WaitAsync(Patience);

        // Each chunk is in DRAM, on the SSD (128 slots: it never evicts here), or counted as shed; never two of these.
        int kept = 0;
        for (int r = 0; r < 8; r++)
        {
            foreach (var key in TieredStorePolicyTests.Keys(12, r * 100))
            {
                kept += store.Tiers[0].Contains(key) || ssd.Contains(key) ? 1 : 0;
            }
        }

        Assert.Equal(96 - kept, store.ShedWrites);
        Assert.Equal(0, store.WriteBackWaits);
    }

    private static Task<int>[] Burst(TieredStore store, int requests, int chunks)
    {
        var burst = new Task<int>[requests];
        for (int r = 0; r < requests; r++)
        {
            int first = r * 100;
            burst[r] = Task.Run(async () => await store.StoreAsync(Layout, TieredStorePolicyTests.Keys(chunks, first), TieredStorePolicyTests.Payloads(chunks, first)));
        }

        return burst;
    }

    [Fact]
    public async Task A_queue_that_never_drains_costs_one_timeout_then_sheds_at_once_until_room_returns()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = TimeSpan.FromMilliseconds(100) });
        var ssd = (NvmeTier)store.Tiers[1];
        using var held = HeldRoom.TakeAll(ssd); // a disk whose writes never complete
        var outcomes = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == store.Metrics.Meter && instrument.Name == "tierkv.store.write_back_waits")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "outcome")
                {
                    outcomes.Enqueue((string)tag.Value!);
                }
            }
        });
        listener.Start();

        // Chunks 0 and 1 fill DRAM; 2..5 each evict one. The first eviction waits 100 ms and is shed; the other three
        // are shed without waiting, so the store ends promptly instead of taking one timeout per chunk.
        var store6 = Task.Run(() => store.Store(Layout, TieredStorePolicyTests.Keys(6), TieredStorePolicyTests.Payloads(6)));
        Assert.Equal(6, await store6.WaitAsync(Patience));
        Assert.Equal(1, store.WriteBackWaits);
        Assert.Equal(1, store.WriteBackWaitTimeouts);
        Assert.Equal(4, store.ShedWrites);
        Assert.Equal(["timeout"], outcomes); // the same on the TierKv meter, for Prometheus

        // The disk recovers: the next eviction finds room at once and is written back again.
        held.GiveBack();
        Assert.Equal(1, store.Store(Layout, TieredStorePolicyTests.Keys(7).AsSpan(), TieredStorePolicyTests.Payloads(1, 6), firstChunk: 6));
        await store.DrainAsync().WaitAsync(Patience);
        Assert.Equal(4, store.ShedWrites);
        Assert.Equal(1, store.WrittenBack);
        Assert.True(ssd.Contains(TestChunks.Key(4)), "the chunk evicted after recovery is on the SSD");
    }

    [Fact]
    public async Task StoreAsync_into_a_queue_that_never_drains_times_out_instead_of_hanging()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = TimeSpan.FromMilliseconds(100) });
        var ssd = (NvmeTier)store.Tiers[1];
        using var held = HeldRoom.TakeAll(ssd);
        Assert.Equal(6, await store.StoreAsync(Layout, TieredStorePolicyTests.Keys(6), TieredStorePolicyTests.Payloads(6)).AsTask().WaitAsync(Patience));
        Assert.True(store.WriteBackWaitTimeouts >= 1);
        Assert.Equal(4, store.ShedWrites);
        Assert.Equal(2, store.Tiers[0].ChunkCount); // the new chunks are stored; only write-backs were shed
        held.GiveBack();
        await store.DrainAsync().WaitAsync(Patience);
    }

    [Fact]
    public async Task A_writer_waiting_in_the_eviction_sink_holds_no_lock_so_DRAM_reads_go_on()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = Patience });
        var ssd = (NvmeTier)store.Tiers[1];
        var keys = TieredStorePolicyTests.Keys(3);
        var payloads = TieredStorePolicyTests.Payloads(3);
        Assert.Equal(2, store.Store(Layout, keys.AsSpan(0, 2), payloads.AsSpan(0, 2 * Cb)));
        using var held = HeldRoom.TakeAll(ssd);

        // A writer using the DRAM tier directly (as the server's in-place receive does) reserved nothing beforehand:
        // chunk 2 evicts chunk 0 (LRU) and the writer blocks in the store's eviction sink, waiting for room.
        var dram = (HostMemoryTier)store.Tiers[0];
        var writer = Task.Factory.StartNew(() => dram.Write(Layout, keys[2], keys[1], payloads.AsSpan(2 * Cb, Cb)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(SpinWait.SpinUntil(() => store.WriteBackWaits > 0, Patience), "the writer did not wait");

        // Meanwhile the DRAM tier serves lookups and reads: its lock is free.
        var reader = Task.Run(() =>
        {
            var one = new byte[Cb];
            int got = store.Retrieve(Layout, keys.AsSpan(1, 1), one);
            return (got, one, store.Tiers[0].Contains(keys[1]));
        });
        var (got, bytes, resident) = await reader.WaitAsync(Patience);
        Assert.Equal(1, got);
        Assert.True(resident);
        Assert.Equal(payloads.AsSpan(Cb, Cb).ToArray(), bytes);
        Assert.False(writer.IsCompleted);

        held.GiveBack();
        Assert.Equal(TierWriteStatus.Stored, await writer.WaitAsync(Patience));
        await store.DrainAsync().WaitAsync(Patience);
        Assert.True(ssd.Contains(keys[0]));
        Assert.Equal(0, store.ShedWrites);
    }

    [Fact]
    public async Task Cancelling_a_StoreAsync_that_waits_for_room_leaves_DRAM_unchanged_and_loses_nothing()
    {
        using var dir = new TempDir();
        using var store = Stack(dir.Path, new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = Patience });
        var ssd = (NvmeTier)store.Tiers[1];
        var dram = store.Tiers[0];
        var keys = TieredStorePolicyTests.Keys(3);
        var payloads = TieredStorePolicyTests.Payloads(3);
        Assert.Equal(2, await store.StoreAsync(Layout, keys.AsMemory(0, 2), payloads.AsMemory(0, 2 * Cb)));
        using var held = HeldRoom.TakeAll(ssd);

        using var cts = new CancellationTokenSource();
        var waiting = store.StoreAsync(Layout, keys, payloads.AsMemory(2 * Cb), firstChunk: 2, cts.Token).AsTask();
        Assert.True(SpinWait.SpinUntil(() => store.WriteBackWaits > 0, Patience), "the store did not wait for room");
        Assert.False(waiting.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));

        // The wait came before the eviction: nothing left DRAM, nothing was shed, the new chunk was not stored.
        Assert.True(dram.Contains(keys[0]));
        Assert.True(dram.Contains(keys[1]));
        Assert.False(dram.Contains(keys[2]));
        Assert.Equal(0, store.ShedWrites);

        // The cancelled wait kept no room: after giving ours back the queue has all of it again.
        held.GiveBack();
        using (var again = HeldRoom.TakeAll(ssd))
        {
            Assert.Equal(held.Count, again.Count);
        }

        Assert.Equal(1, await store.StoreAsync(Layout, keys, payloads.AsMemory(2 * Cb), firstChunk: 2).AsTask().WaitAsync(Patience));
        await store.DrainAsync().WaitAsync(Patience);
        Assert.True(ssd.Contains(keys[0]));
    }

    [Theory]
    [InlineData(TierWriteStatus.Failed)]
    [InlineData(TierWriteStatus.NoSpace)]
    public async Task A_failing_or_full_SSD_tier_does_not_hang_waiting_stores(TierWriteStatus answer)
    {
        using var dram = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 2L * Cb, SlotBytes = Cb, EvictionPolicy = "lru" });
        using var ssd = new AnsweringTier(answer, room: 1);
        using var store = new TieredStore([dram, ssd], options: new TieredStoreOptions { WriteBackOverflow = WriteBackOverflow.Wait, WriteBackWaitTimeout = Patience, PersistOnDispose = false }, ownsTiers: false);
        var keys = TieredStorePolicyTests.Keys(20);
        var payloads = TieredStorePolicyTests.Payloads(20);

        Assert.Equal(10, await Task.Run(() => store.Store(Layout, keys.AsSpan(0, 10), payloads.AsSpan(0, 10 * Cb))).WaitAsync(Patience));
        Assert.Equal(10, await store.StoreAsync(Layout, keys, payloads.AsMemory(10 * Cb), firstChunk: 10).AsTask().WaitAsync(Patience));
        Assert.Equal(18, ssd.Attempts); // every eviction was tried, none waited forever, none counted as shed
        Assert.Equal(0, store.ShedWrites);
        Assert.Equal(0, store.WriteBackWaitTimeouts);
        Assert.Equal(0, store.WrittenBack);
    }

    [Fact]
    public async Task SSD_reservations_come_back_whatever_the_write_behind_outcome()
    {
        using var dir = new TempDir();
        using var tier = new NvmeTier(NvmeTierTests.Options(dir.Path, chunks: 8) with { QueueDepth = 1 });
        int room;
        using (var all = HeldRoom.TakeAll(tier))
        {
            room = all.Count;
        }

        Assert.True(room >= 1);

        // Stored: the room comes back when the write completes.
        Assert.True(tier.ReserveWriteBehind(TimeSpan.Zero));
        Assert.Equal(TierWriteStatus.Stored, tier.WriteBehindReserved(Layout, TestChunks.Key(1), null, NvmeTierTests.Payload(1)));
        await tier.DrainAsync().WaitAsync(Patience);

        // Already present, a caller mistake, or an unused reservation: the room comes back at once.
        Assert.True(tier.ReserveWriteBehind(TimeSpan.Zero));
        Assert.Equal(TierWriteStatus.AlreadyPresent, tier.WriteBehindReserved(Layout, TestChunks.Key(1), null, NvmeTierTests.Payload(1)));
        Assert.True(tier.ReserveWriteBehind(TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => tier.WriteBehindReserved(Layout, TestChunks.Key(2), null, new byte[10]));
        Assert.True(await tier.ReserveWriteBehindAsync(TimeSpan.Zero));
        tier.ReleaseWriteBehindReservation();
        using (var all = HeldRoom.TakeAll(tier))
        {
            Assert.Equal(room, all.Count);
            Assert.False(await tier.ReserveWriteBehindAsync(TimeSpan.FromMilliseconds(1)));
        }

        Assert.True(tier.Contains(TestChunks.Key(1)));
    }

    [Fact]
    public void Options_reject_an_unbounded_or_unknown_overflow_setting()
    {
        Assert.Equal(WriteBackOverflow.Wait, new TieredStoreOptions().WriteBackOverflow);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TieredStoreOptions { WriteBackWaitTimeout = TimeSpan.Zero }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new TieredStoreOptions { WriteBackWaitTimeout = Timeout.InfiniteTimeSpan }.Validate());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TieredStoreOptions { WriteBackOverflow = (WriteBackOverflow)7 }.Validate());
        Assert.Equal("WriteBackOverflow", e.ParamName);
    }

    /// <summary>DRAM of 2 chunks over an SSD of 128 with the smallest queue (1 I/O, 2 staging buffers).</summary>
    private static TieredStore Stack(string dir, TieredStoreOptions store) =>
        TierStackBuilder.Build(new TierStackOptions
        {
            DataDirectory = dir,
            DramCapacityBytes = 2L * Cb,
            SsdCapacityBytes = 128L * Cb,
            ChunkBytes = Cb,
            SsdQueueDepth = 1,
            DramEvictionPolicy = "lru",
            SsdEvictionPolicy = "lru",
            Store = store,
            Log = static _ => { },
        });

    /// <summary>
    /// Every free unit of room in a write-behind queue, taken by the test so the queue looks full (a disk whose writes
    /// never finish). Declared after the store, so it is disposed first: an assertion failing while the room is held
    /// must not leave the tier's dispose waiting for it forever.
    /// </summary>
    private sealed class HeldRoom : IDisposable
    {
        private readonly IWriteBehindTier _tier;

        private HeldRoom(IWriteBehindTier tier, int count)
        {
            _tier = tier;
            Count = count;
        }

        public int Count { get; }

        private bool Returned { get; set; }

        public static HeldRoom TakeAll(IWriteBehindTier tier)
        {
            int n = 0;
            while (tier.ReserveWriteBehind(TimeSpan.Zero))
            {
                n++;
            }

            return new HeldRoom(tier, n);
        }

        public void GiveBack()
        {
            if (Returned)
            {
                return;
            }

            Returned = true;
            for (int i = 0; i < Count; i++)
            {
                _tier.ReleaseWriteBehindReservation();
            }
        }

        public void Dispose() => GiveBack();
    }

    private static async Task AssertEveryChunkServedExactlyAsync(TieredStore store, int requests, int chunks)
    {
        var one = new byte[Cb];
        for (int r = 0; r < requests; r++)
        {
            var keys = TieredStorePolicyTests.Keys(chunks, r * 100);
            var payloads = TieredStorePolicyTests.Payloads(chunks, r * 100);
            for (int i = 0; i < chunks; i++)
            {
                Assert.Equal(1, await store.RetrieveAsync(Layout, keys.AsMemory(i, 1), one));
                Assert.Equal(payloads.AsSpan(i * Cb, Cb).ToArray(), one);
            }
        }
    }

    /// <summary>
    /// A write-behind tier whose every write answers <c>answer</c> at once (a failing or full disk): the room a write
    /// took comes straight back, as the real tier's does when its I/O fails.
    /// </summary>
    private sealed class AnsweringTier(TierWriteStatus answer, int room) : IWriteBehindTier
    {
        private readonly SemaphoreSlim _room = new(room, room);
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public string Name => "ssd";

        public TierKind Kind => TierKind.Ssd;

        public long CapacityBytes => 1L << 30;

        public long UsedBytes => 0;

        public long ChunkCount => 0;

        public bool HasLocalIndex => true;

        public bool Contains(in ChunkKey key) => false;

        public ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
        {
            present.Span.Clear();
            return ValueTask.CompletedTask;
        }

        public ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default) => ValueTask.FromResult(TierReadStatus.Miss);

        public ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) => ValueTask.FromResult(answer);

        public ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default) => ValueTask.FromResult(false);

        public long MaxVersion => 0;

        public int WritesInFlight => 0;

        public bool TryGetVersion(in ChunkKey key, out long version)
        {
            version = 0;
            return false;
        }

        public TierWriteStatus TryWriteBehind(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version = 0) =>
            _room.Wait(0) ? WriteBehindReserved(layout, key, parent, payload, version) : TierWriteStatus.NotAdmitted;

        public async ValueTask<bool> ReserveWriteBehindAsync(TimeSpan timeout, CancellationToken cancellationToken = default) => await _room.WaitAsync(timeout, cancellationToken);

        public bool ReserveWriteBehind(TimeSpan timeout, CancellationToken cancellationToken = default) => _room.Wait(timeout, cancellationToken);

        public TierWriteStatus WriteBehindReserved(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version = 0)
        {
            Interlocked.Increment(ref _attempts);
            _room.Release();
            return answer;
        }

        public void ReleaseWriteBehindReservation() => _room.Release();

        public Task DrainAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public void Dispose() => _room.Dispose();
    }
}
