using TierKv.Keys;
using TierKv.Nvme.CrashChild;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>
/// Versions in the SSD tier (docs/core.md, "Versions"): the newest copy of a key wins in the index, while its write is
/// in flight, after a delete, and at the next open, even when an older copy is still on disk.
/// </summary>
public sealed class VersionTests : IDisposable
{
    private static readonly KvLayout Layout = TestChunks.Layout;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[] Value(int key, long version) => NvmeTierTests.Payload((key * 100_000L) + version);

    private static async Task<byte[]?> Read(NvmeTier tier, int key)
    {
        var buf = new byte[Layout.ChunkBytes];
        return await tier.ReadAsync(Layout, TestChunks.Key(key), buf) == TierReadStatus.Hit ? buf : null;
    }

    [Fact]
    public async Task A_newer_version_replaces_the_held_one_and_an_older_or_equal_one_is_refused()
    {
        using var tier = new NvmeTier(NvmeTierTests.Options(_dir.Path));
        Assert.Equal(TierWriteStatus.Stored, tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 5), version: 5));
        Assert.Equal(TierWriteStatus.AlreadyPresent, tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 4), version: 4));
        Assert.Equal(TierWriteStatus.AlreadyPresent, tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 5), version: 5));
        Assert.Equal(TierWriteStatus.Stored, tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 7), version: 7));
        Assert.Equal(Value(1, 7), await Read(tier, 1));
        await tier.DrainAsync();
        Assert.True(tier.TryGetVersion(TestChunks.Key(1), out long v));
        Assert.Equal(7, v);
        Assert.Equal(1, tier.ChunkCount);
        Assert.Equal(Layout.ChunkBytes, tier.UsedBytes); // the replaced copy freed its space
        Assert.Equal(7, tier.MaxVersion);
    }

    [Fact]
    public async Task Reads_during_a_burst_of_overwrites_never_return_a_version_older_than_one_already_accepted()
    {
        // One writer overwrites a few keys as fast as the queue takes them; readers check every value they get against
        // the newest version accepted before their read began.
        using var tier = new NvmeTier(NvmeTierTests.Options(_dir.Path, chunks: 32) with { StagingBuffers = 4 });
        const int keys = 4;
        const long Versions = 400;
        var accepted = new long[keys];
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (long v = 1; v <= Versions; v++)
            {
                int k = (int)(v % keys);
                while (!await tier.ReserveWriteBehindAsync(TimeSpan.FromSeconds(10)))
                {
                }

                Assert.Equal(TierWriteStatus.Stored, tier.WriteBehindReserved(Layout, TestChunks.Key(k), null, Value(k, v), v));
                Volatile.Write(ref accepted[k], v);
            }

            stop.Cancel();
        });
        int checkedReads = 0;
        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(async () =>
        {
            var buf = new byte[Layout.ChunkBytes];
            int k = r;
            while (!stop.IsCancellationRequested)
            {
                k = (k + 1) % keys;
                long floor = Volatile.Read(ref accepted[k]);
                if (await tier.ReadAsync(Layout, TestChunks.Key(k), buf) != TierReadStatus.Hit)
                {
                    Assert.Equal(0, floor); // nothing accepted yet: the only allowed miss
                    continue;
                }

                // Any version written so far: the writer publishes v (visible, staged) just before it records it as accepted, so a
                // read can return v a moment before accepted[k] says v.
                long got = VersionOf(k, buf, Versions);
                Assert.True(got >= floor, $"key {k}: read version {got} after version {floor} was accepted");
                Interlocked.Increment(ref checkedReads);
            }
        })).ToArray();
        await writer;
        await Task.WhenAll(readers);
        Assert.True(checkedReads > 0);
    }

    /// <summary>Which version of key <paramref name="k"/> the bytes are (searching down from <paramref name="newest"/>).</summary>
    private static long VersionOf(int k, byte[] bytes, long newest)
    {
        for (long v = newest; v >= 1; v--)
        {
            if (v % 4 == k && bytes.AsSpan().SequenceEqual(Value(k, v)))
            {
                return v;
            }
        }

        throw new Xunit.Sdk.XunitException($"key {k}: bytes of no accepted version");
    }

    [Fact]
    public async Task At_open_the_newest_copy_wins_over_an_older_one_left_on_disk_and_the_older_is_zeroed()
    {
        var opts = NvmeTierTests.Options(_dir.Path);
        byte[] oldImage;
        string path;
        long offset;
        using (var tier = new NvmeTier(opts))
        {
            tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 1), version: 1);
            await tier.DrainAsync();
            Assert.True(tier.TryLocate(TestChunks.Key(1), out path, out offset));
            oldImage = ReadSlotImage(path, offset - NvmeTier.HeaderOffset, tier.SlotStride);
            tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 2), version: 2);
            await tier.DrainAsync();
            Assert.True(tier.TryLocate(TestChunks.Key(1), out string newPath, out long newOffset));
            Assert.False(newPath == path && newOffset == offset);
        }

        // A crash after the new copy was durable and before the old one was zeroed leaves both: put the old image back.
        WriteSlotImage(path, offset - NvmeTier.HeaderOffset, oldImage);
        using (var tier = new NvmeTier(opts))
        {
            Assert.Equal(1, tier.Recovery.DuplicateSlots);
            Assert.Equal(Value(1, 2), await Read(tier, 1));
            Assert.Equal(2, tier.MaxVersion);

            // Deleting the winner must not bring the loser back at the next open: it was zeroed.
            Assert.True(await tier.RemoveAsync(TestChunks.Key(1)));
        }

        using (var tier = new NvmeTier(opts))
        {
            Assert.Null(await Read(tier, 1));
            Assert.Equal(0, tier.ChunkCount);
        }
    }

    [Fact]
    public async Task A_delete_right_after_an_overwrite_leaves_no_copy_for_the_next_open()
    {
        var opts = NvmeTierTests.Options(_dir.Path);
        using (var tier = new NvmeTier(opts))
        {
            for (int k = 0; k < 8; k++)
            {
                tier.TryWriteBehind(Layout, TestChunks.Key(k), null, Value(k, 1), version: 1);
            }

            await tier.DrainAsync();
            for (int k = 0; k < 8; k++)
            {
                // The overwrite is still in flight when the delete comes.
                Assert.Equal(TierWriteStatus.Stored, tier.TryWriteBehind(Layout, TestChunks.Key(k), null, Value(k, 2), version: 2));
                Assert.True(await tier.RemoveAsync(TestChunks.Key(k)));
                Assert.Null(await Read(tier, k));
            }
        }

        using (var reopened = new NvmeTier(opts))
        {
            Assert.Equal(0, reopened.ChunkCount);
        }
    }

    [Fact]
    public async Task A_damaged_meta_file_rebuilds_the_index_from_the_slots_instead_of_discarding_them()
    {
        var opts = NvmeTierTests.Options(_dir.Path);
        using (var tier = new NvmeTier(opts))
        {
            tier.TryWriteBehind(Layout, TestChunks.Key(3), null, Value(3, 1), version: 1);
            await tier.DrainAsync();
        }

        File.WriteAllBytes(Path.Combine(_dir.Path, "tierkv-ssd.meta"), [0x00, 0xFF, 0x13, 0x37]);
        using var reopened = new NvmeTier(opts);
        Assert.Equal(Value(3, 1), await Read(reopened, 3));
    }

    [Fact]
    public async Task Content_addressed_chunks_keep_the_first_copy()
    {
        using var tier = new NvmeTier(NvmeTierTests.Options(_dir.Path));
        Assert.Equal(TierWriteStatus.Stored, tier.TryWriteBehind(Layout, TestChunks.Key(9), null, Value(9, 1)));
        Assert.Equal(TierWriteStatus.AlreadyPresent, tier.TryWriteBehind(Layout, TestChunks.Key(9), null, Value(9, 2)));
        Assert.Equal(TierWriteStatus.AlreadyPresent, await tier.WriteAsync(Layout, TestChunks.Key(9), null, Value(9, 3)));
        Assert.Equal(Value(9, 1), await Read(tier, 9));
    }

    private static byte[] ReadSlotImage(string path, long offset, long stride)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var b = new byte[stride];
        f.Position = offset;
        f.ReadExactly(b);
        return b;
    }

    private static void WriteSlotImage(string path, long offset, byte[] image)
    {
        // The freed slot the old copy sat in is still free after the overwrite (the tier zeroed it): write it back there.
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        f.Position = offset;
        f.Write(image);
    }
}
