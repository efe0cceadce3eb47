using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Nvme.CrashChild;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

public sealed class NvmeTierTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;

    internal static NvmeTierOptions Options(string dir, int chunks = 16) => new()
    {
        Directory = dir,
        CapacityBytes = (long)chunks * Layout.ChunkBytes,
        SlotBytes = Layout.ChunkBytes,
        QueueDepth = 4,
        EvictionPolicy = "lru",
        FileBytes = 8L * (BlockFile.Alignment + NvmeTierOptions.AlignUp(Layout.ChunkBytes + 64)),
        Log = static _ => { },
    };

    internal static byte[] Payload(long n)
    {
        var p = new byte[Layout.ChunkBytes];
        TestChunks.Fill(n, p);
        return p;
    }

    internal static async Task<byte[]?> ReadAsync(IKvTier tier, long n)
    {
        var buf = new byte[Layout.ChunkBytes];
        return await tier.ReadAsync(Layout, TestChunks.Key(n), buf) == TierReadStatus.Hit ? buf : null;
    }

    [Fact]
    public async Task Stored_chunk_reads_back_identical()
    {
        using var dir = new TempDir();
        using var tier = new NvmeTier(Options(dir.Path));
        Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1)));
        Assert.Equal(TierWriteStatus.AlreadyPresent, await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1)));
        Assert.True(tier.Contains(TestChunks.Key(1)));
        Assert.Equal(Payload(1), await ReadAsync(tier, 1));
        Assert.Null(await ReadAsync(tier, 2));
        Assert.Equal(1, tier.ChunkCount);
        Assert.Equal(Layout.ChunkBytes, tier.UsedBytes);
    }

    [Fact]
    public void Uses_O_DIRECT_where_the_file_system_allows_it()
    {
        using var dir = new TempDir();
        var (direct, detail) = DirectIoProbe.Check(dir.Path);
        using var tier = new NvmeTier(Options(dir.Path));
        Assert.Equal(direct, tier.IsDirect);
        Assert.StartsWith(direct ? "O_DIRECT, " : "buffered", tier.IoMode, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(detail));
    }

    [Fact]
    public async Task Wrong_payload_size_throws_and_stores_nothing()
    {
        using var dir = new TempDir();
        using var tier = new NvmeTier(Options(dir.Path));
        await Assert.ThrowsAsync<ArgumentException>(async () => await tier.WriteAsync(Layout, TestChunks.Key(1), null, new byte[100]));
        Assert.Equal(0, tier.ChunkCount);
    }

    [Fact]
    public async Task Warm_restart_serves_every_completed_chunk_with_parents_and_order()
    {
        using var dir = new TempDir();
        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            for (int n = 0; n < 10; n++)
            {
                Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), n > 0 ? TestChunks.Key(n - 1) : null, Payload(n)));
            }
        }

        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            Assert.Equal(10, tier.Recovery.RecoveredChunks);
            Assert.Equal(0, tier.Recovery.DamagedSlots);

            // Recovered in write order: with LRU the oldest recovered chunk (0) is the first to go when room is needed.
            for (int n = 10; n < 17; n++)
            {
                Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), null, Payload(n)));
            }

            Assert.Equal(16, tier.ChunkCount);
            Assert.False(tier.Contains(TestChunks.Key(0)));
            for (int n = 1; n < 17; n++)
            {
                Assert.Equal(Payload(n), await ReadAsync(tier, n));
            }
        }
    }

    [Fact]
    public async Task Full_tier_evicts_least_recently_used()
    {
        using var dir = new TempDir();
        using var tier = new NvmeTier(Options(dir.Path, chunks: 4));
        for (int n = 0; n < 4; n++)
        {
            await tier.WriteAsync(Layout, TestChunks.Key(n), null, Payload(n));
        }

        Assert.NotNull(await ReadAsync(tier, 0)); // 0 becomes most recent
        await tier.WriteAsync(Layout, TestChunks.Key(4), null, Payload(4));
        Assert.True(tier.Contains(TestChunks.Key(0)));
        Assert.False(tier.Contains(TestChunks.Key(1)));
        Assert.Equal(1, tier.Evictions);
        Assert.Equal(4, tier.ChunkCount);
        Assert.Equal(Payload(4), await ReadAsync(tier, 4));
    }

    [Fact]
    public async Task Removed_chunk_does_not_come_back_after_restart()
    {
        using var dir = new TempDir();
        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1));
            await tier.WriteAsync(Layout, TestChunks.Key(2), null, Payload(2));
            Assert.True(await tier.RemoveAsync(TestChunks.Key(1)));
            Assert.False(await tier.RemoveAsync(TestChunks.Key(1)));
            Assert.Null(await ReadAsync(tier, 1));
        }

        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            Assert.False(tier.Contains(TestChunks.Key(1)));
            Assert.Equal(Payload(2), await ReadAsync(tier, 2));
        }
    }

    [Fact]
    public async Task Flipped_payload_byte_is_detected_counted_and_a_miss()
    {
        using var dir = new TempDir();
        using var metrics = new TierKvMetrics();
        using (var tier = new NvmeTier(Options(dir.Path), metrics))
        {
            await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1));
            await tier.WriteAsync(Layout, TestChunks.Key(2), null, Payload(2));
            Assert.True(tier.TryLocate(TestChunks.Key(1), out string path, out long offset));
            FlipByte(path, offset + ChunkHeader.Size + 1000);
            var buf = new byte[Layout.ChunkBytes];
            Assert.Equal(TierReadStatus.Damaged, await tier.ReadAsync(Layout, TestChunks.Key(1), buf));
            Assert.Equal(1, tier.DamagedReads);
            Assert.Equal(1, metrics.ForTier("ssd").ChecksumFailures);
            Assert.False(tier.Contains(TestChunks.Key(1)));
            Assert.Equal(TierReadStatus.Miss, await tier.ReadAsync(Layout, TestChunks.Key(1), buf));
            Assert.Equal(Payload(2), await ReadAsync(tier, 2));
        }

        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            Assert.Equal(1, tier.Recovery.DamagedSlots);
            Assert.Equal(1, tier.Recovery.RecoveredChunks);
            Assert.False(tier.Contains(TestChunks.Key(1)));
        }
    }

    [Fact]
    public async Task Flipped_byte_found_at_restart_is_dropped_before_it_is_visible()
    {
        using var dir = new TempDir();
        string path;
        long offset;
        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1));
            Assert.True(tier.TryLocate(TestChunks.Key(1), out path, out offset));
        }

        FlipByte(path, offset + ChunkHeader.Size + Layout.ChunkBytes - 1);
        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            Assert.Equal(1, tier.Recovery.DamagedSlots);
            Assert.False(tier.Contains(TestChunks.Key(1)));
        }
    }

    [Fact]
    public async Task Truncated_file_drops_the_lost_chunks_at_restart_and_while_running()
    {
        using var dir = new TempDir();
        var opts = Options(dir.Path, chunks: 8); // one file of 8 slots
        string path;
        long stride;
        using (var tier = new NvmeTier(opts))
        {
            stride = tier.SlotStride;
            for (int n = 0; n < 8; n++)
            {
                await tier.WriteAsync(Layout, TestChunks.Key(n), null, Payload(n));
            }

            Assert.True(tier.TryLocate(TestChunks.Key(0), out path, out _));

            // Truncated under a running tier: reads of the lost slots fail as misses, never exceptions.
            long cut = (4 * tier.SlotStride) + 5000;
            using (var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
            {
                f.SetLength(cut);
            }

            int lost = 0;
            for (int n = 0; n < 8; n++)
            {
                Assert.True(tier.TryLocate(TestChunks.Key(n), out _, out long off));
                var buf = new byte[Layout.ChunkBytes];
                var s = await tier.ReadAsync(Layout, TestChunks.Key(n), buf);
                if (off - NvmeTier.HeaderOffset + tier.SlotStride <= cut)
                {
                    Assert.Equal(TierReadStatus.Hit, s);
                    Assert.Equal(Payload(n), buf);
                }
                else
                {
                    Assert.NotEqual(TierReadStatus.Hit, s);
                    lost++;
                }
            }

            Assert.Equal(4, lost);
            Assert.Equal(4, tier.DamagedReads + tier.IoErrors);
        }

        using (var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            f.SetLength((3 * stride) + BlockFile.Alignment + 100); // slot 3 keeps its header page, loses its payload
        }

        using (var tier = new NvmeTier(opts))
        {
            Assert.Equal(3, tier.Recovery.RecoveredChunks);
            Assert.Equal(1, tier.Recovery.DamagedSlots); // slot 3, cut inside its payload
            for (int n = 0; n < 8; n++)
            {
                Assert.Equal(n < 3 ? Payload(n) : null, await ReadAsync(tier, n));
            }
        }
    }

    [Fact]
    public async Task Slot_overwritten_with_another_chunks_bytes_is_detected()
    {
        using var dir = new TempDir();
        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1));
            await tier.WriteAsync(Layout, TestChunks.Key(2), null, Payload(2));
            Assert.True(tier.TryLocate(TestChunks.Key(1), out string path1, out long off1));
            Assert.True(tier.TryLocate(TestChunks.Key(2), out string path2, out long off2));
            CopySlot(path1, off1, path2, off2, ChunkHeader.Size + Layout.ChunkBytes + 64);

            // Live: chunk 2's slot now names chunk 1, so reading chunk 2 is a damaged miss, never chunk 1's bytes.
            var buf = new byte[Layout.ChunkBytes];
            Assert.Equal(TierReadStatus.Damaged, await tier.ReadAsync(Layout, TestChunks.Key(2), buf));
            Assert.Equal(1, tier.DamagedReads);
            Assert.Equal(Payload(1), await ReadAsync(tier, 1));
        }

        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            // At restart two slots claim chunk 1: one is kept, the duplicate dropped and counted.
            Assert.Equal(1, tier.Recovery.DuplicateSlots);
            Assert.False(tier.Contains(TestChunks.Key(2)));
            Assert.Equal(Payload(1), await ReadAsync(tier, 1));
        }
    }

    [Fact]
    public async Task Torn_write_is_never_visible_after_restart()
    {
        using var dir = new TempDir();
        string path;
        long offset;
        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1));
            await tier.WriteAsync(Layout, TestChunks.Key(2), null, Payload(2));
            Assert.True(tier.TryLocate(TestChunks.Key(2), out path, out offset));
        }

        // A torn write: the new header and the first half of the payload landed, the rest is the old slot's bytes.
        using (var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = offset + ChunkHeader.Size + (Layout.ChunkBytes / 2);
            f.Write(new byte[Layout.ChunkBytes / 2]);
        }

        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            Assert.Equal(1, tier.Recovery.DamagedSlots);
            Assert.False(tier.Contains(TestChunks.Key(2)));
            Assert.Equal(Payload(1), await ReadAsync(tier, 1));
        }
    }

    [Fact]
    public async Task Headers_only_recovery_still_never_serves_a_torn_chunk()
    {
        using var dir = new TempDir();
        var opts = Options(dir.Path) with { VerifyOnRecovery = false };
        string path;
        long offset;
        using (var tier = new NvmeTier(opts))
        {
            await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1));
            Assert.True(tier.TryLocate(TestChunks.Key(1), out path, out offset));
        }

        FlipByte(path, offset + ChunkHeader.Size + 7);
        using (var tier = new NvmeTier(opts))
        {
            Assert.True(tier.Contains(TestChunks.Key(1))); // visible to lookups until read ...
            var buf = new byte[Layout.ChunkBytes];
            Assert.Equal(TierReadStatus.Damaged, await tier.ReadAsync(Layout, TestChunks.Key(1), buf)); // ... but never served
            Assert.False(tier.Contains(TestChunks.Key(1)));
        }
    }

    [Fact]
    public void Second_process_on_the_same_directory_is_refused_with_a_clear_error()
    {
        using var dir = new TempDir();
        using var tier = new NvmeTier(Options(dir.Path));
        var ex = Assert.Throws<IOException>(() => new NvmeTier(Options(dir.Path)));
        Assert.Contains("in use", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_slot_size_starts_cold_instead_of_misreading()
    {
        using var dir = new TempDir();
        using (var tier = new NvmeTier(Options(dir.Path)))
        {
            await tier.WriteAsync(Layout, TestChunks.Key(1), null, Payload(1));
        }

        var other = Options(dir.Path) with { SlotBytes = Layout.ChunkBytes * 2, CapacityBytes = 8L * Layout.ChunkBytes * 2 };
        using (var tier = new NvmeTier(other))
        {
            Assert.Equal(0, tier.ChunkCount);
        }
    }

    [Fact]
    public async Task Write_behind_becomes_visible_after_drain()
    {
        using var dir = new TempDir();
        using var tier = new NvmeTier(Options(dir.Path));
        var s = tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Payload(1));
        Assert.True(s is TierWriteStatus.Stored or TierWriteStatus.NotAdmitted);
        await tier.DrainAsync();
        if (s == TierWriteStatus.Stored)
        {
            Assert.Equal(Payload(1), await ReadAsync(tier, 1));
        }
        else
        {
            Assert.Equal(1, tier.ShedWrites);
        }
    }

    internal static void FlipByte(string path, long offset)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        f.Position = offset;
        int b = f.ReadByte();
        f.Position = offset;
        f.WriteByte((byte)(b ^ 0x40));
    }

    private static void CopySlot(string fromPath, long from, string toPath, long to, long length)
    {
        var bytes = new byte[length];
        using (var f = new FileStream(fromPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            f.Position = from;
            f.ReadExactly(bytes);
        }

        using var t = new FileStream(toPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        t.Position = to;
        t.Write(bytes);
    }
}
