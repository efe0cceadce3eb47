using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Tests.Shared;

/// <summary>
/// The tier contract (<see cref="IKvTier"/>) stated once, as StreamConformanceTests does for streams: every tier — host
/// DRAM, the NVMe SSD, the Redis/Garnet cluster — runs these same tests through a subclass that says how to make one.
/// </summary>
public abstract class TierConformanceTests
{
    /// <summary>A small layout (16 KiB chunks) every tier accepts.</summary>
    protected static readonly KvLayout Layout = new("test/tier-conformance", 1, 1, 16, KvElementType.BFloat16);

    /// <summary>A fresh, empty tier of at least <paramref name="chunks"/> chunks (or a skip where its medium is missing).</summary>
    protected abstract Task<IKvTier> CreateAsync(int chunks);

    /// <summary>Releases a tier made by <see cref="CreateAsync"/>.</summary>
    protected virtual ValueTask ReleaseAsync(IKvTier tier)
    {
        tier.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Keys unique to this run, so a shared medium (a cluster) never holds them from before.</summary>
    protected static ChunkKey[] Keys(int n)
    {
        var keys = new ChunkKey[n];
        var salt = Guid.NewGuid().ToByteArray();
        for (int i = 0; i < n; i++)
        {
            keys[i] = new ChunkKey(new UInt128(BitConverter.ToUInt64(salt), BitConverter.ToUInt64(salt, 8) ^ (ulong)i));
        }

        return keys;
    }

    protected static byte[] Payload(int seed)
    {
        var b = new byte[Layout.ChunkBytes];
        new Random(seed).NextBytes(b);
        return b;
    }

    [SkippableFact]
    public async Task A_written_chunk_reads_back_exactly_and_others_miss()
    {
        var tier = await CreateAsync(8);
        try
        {
            var k = Keys(2);
            Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, k[0], null, Payload(1)));
            var buf = new byte[Layout.ChunkBytes];
            Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(Layout, k[0], buf));
            Assert.Equal(Payload(1), buf);
            Assert.Equal(TierReadStatus.Miss, await tier.ReadAsync(Layout, k[1], buf));
        }
        finally
        {
            await ReleaseAsync(tier);
        }
    }

    [SkippableFact]
    public async Task Equal_keys_mean_equal_content_so_a_second_write_keeps_the_first_copy()
    {
        var tier = await CreateAsync(8);
        try
        {
            var k = Keys(1);
            Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, k[0], null, Payload(1)));
            Assert.Equal(TierWriteStatus.AlreadyPresent, await tier.WriteAsync(Layout, k[0], null, Payload(2)));
            var buf = new byte[Layout.ChunkBytes];
            Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(Layout, k[0], buf));
            Assert.Equal(Payload(1), buf);
        }
        finally
        {
            await ReleaseAsync(tier);
        }
    }

    [SkippableFact]
    public async Task Batched_existence_answers_each_key_and_a_local_index_agrees()
    {
        var tier = await CreateAsync(8);
        try
        {
            var k = Keys(4);
            await tier.WriteAsync(Layout, k[0], null, Payload(1));
            await tier.WriteAsync(Layout, k[2], k[1], Payload(3));
            var present = new bool[4];
            await tier.ExistsAsync(Layout, k, present);
            Assert.Equal([true, false, true, false], present);
            if (tier.HasLocalIndex)
            {
                Assert.True(tier.Contains(k[0]));
                Assert.False(tier.Contains(k[1]));
            }
        }
        finally
        {
            await ReleaseAsync(tier);
        }
    }

    [SkippableFact]
    public async Task Remove_says_whether_the_chunk_was_held_and_it_is_a_miss_afterwards()
    {
        var tier = await CreateAsync(8);
        try
        {
            var k = Keys(2);
            await tier.WriteAsync(Layout, k[0], null, Payload(1));
            Assert.True(await tier.RemoveAsync(k[0]));
            Assert.False(await tier.RemoveAsync(k[1]));
            Assert.Equal(TierReadStatus.Miss, await tier.ReadAsync(Layout, k[0], new byte[Layout.ChunkBytes]));
            Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, k[0], null, Payload(5)));
        }
        finally
        {
            await ReleaseAsync(tier);
        }
    }

    [SkippableFact]
    public async Task Caller_mistakes_throw_and_store_nothing()
    {
        var tier = await CreateAsync(8);
        try
        {
            var k = Keys(1);
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await tier.WriteAsync(Layout, k[0], null, Array.Empty<byte>()));
            Assert.Equal(TierReadStatus.Miss, await tier.ReadAsync(Layout, k[0], new byte[Layout.ChunkBytes]));
            await tier.WriteAsync(Layout, k[0], null, Payload(1));
            await Assert.ThrowsAnyAsync<ArgumentException>(async () => await tier.ReadAsync(Layout, k[0], new byte[16]));
        }
        finally
        {
            await ReleaseAsync(tier);
        }
    }

    [SkippableFact]
    public async Task Usage_follows_writes_and_removes_within_capacity()
    {
        var tier = await CreateAsync(4);
        try
        {
            Skip.IfNot(tier.HasLocalIndex, "a tier without a local index does not count its chunks");
            var k = Keys(12);
            for (int i = 0; i < k.Length; i++)
            {
                await tier.WriteAsync(Layout, k[i], null, Payload(i));
                Assert.True(tier.UsedBytes <= tier.CapacityBytes, "capacity is never exceeded: the tier evicts");
            }

            long before = tier.ChunkCount;
            Assert.True(before is > 0 and <= 12);
            Assert.Equal(before * Layout.ChunkBytes, tier.UsedBytes);
            Assert.True(await tier.RemoveAsync(k[^1]));
            Assert.Equal(before - 1, tier.ChunkCount);
        }
        finally
        {
            await ReleaseAsync(tier);
        }
    }

    [SkippableFact]
    public async Task Concurrent_writers_and_readers_never_see_a_torn_chunk()
    {
        var tier = await CreateAsync(16);
        try
        {
            var k = Keys(24);
            var tasks = Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
            {
                var buf = new byte[Layout.ChunkBytes];
                for (int round = 0; round < 30; round++)
                {
                    int i = (t * 7 + round) % k.Length;
                    await tier.WriteAsync(Layout, k[i], null, Payload(i));
                    int j = (t * 5 + round * 3) % k.Length;
                    if (await tier.ReadAsync(Layout, k[j], buf) == TierReadStatus.Hit)
                    {
                        Assert.Equal(Payload(j), buf);
                    }
                }
            })).ToArray();
            await Task.WhenAll(tasks);
        }
        finally
        {
            await ReleaseAsync(tier);
        }
    }
}
