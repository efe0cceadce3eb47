using System.Runtime.InteropServices;
using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Memory;
using TierKv.Nvme.CrashChild;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>Page-aligned caller memory moves straight between disk and the caller (no staging copy); same guarantees.</summary>
public sealed class ZeroCopyTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;

    [Fact]
    public async Task Unaligned_sources_copied_with_streaming_stores_verify_after_restart()
    {
        // Sources at odd offsets take the staging copy (non-temporal stores where AVX is present, hashed from the
        // source): every slot must still verify at open (VerifyOnRecovery) and read back byte for byte.
        int cb = Layout.ChunkBytes;
        var backing = new byte[cb + 64];
        using var dir = new TempDir();
        using (var tier = new NvmeTier(NvmeTierTests.Options(dir.Path)))
        {
            for (int n = 0; n < 3; n++)
            {
                var src = backing.AsMemory(1 + (n * 7), cb);
                NvmeTierTests.Payload(n).CopyTo(src);
                Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), null, src));
            }
        }

        using var reopened = new NvmeTier(NvmeTierTests.Options(dir.Path) with { VerifyOnRecovery = true });
        Assert.Equal(0, reopened.Recovery.DamagedSlots);
        Assert.Equal(3, reopened.Recovery.RecoveredChunks);
        var dest = new byte[cb];
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(TierReadStatus.Hit, await reopened.ReadAsync(Layout, TestChunks.Key(n), dest));
            Assert.Equal(NvmeTierTests.Payload(n), dest);
        }
    }

    [Fact]
    public async Task Aligned_buffers_round_trip_through_restart_and_damage_is_still_caught()
    {
        int cb = Layout.ChunkBytes;
        Assert.Equal(0, cb % BlockFile.Alignment);
        nint src = Alloc(cb);
        nint dst = Alloc(cb);
        try
        {
            using var srcMem = new NativeMemoryManager(src, cb);
            using var dstMem = new NativeMemoryManager(dst, cb);
            using var dir = new TempDir();
            string path;
            long offset;
            using (var tier = new NvmeTier(NvmeTierTests.Options(dir.Path)))
            {
                for (int n = 0; n < 3; n++)
                {
                    TestChunks.Fill(n, srcMem.GetSpan());
                    Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), null, srcMem.Memory));
                }

                Assert.True(tier.TryLocate(TestChunks.Key(2), out path, out offset));
            }

            NvmeTierTests.FlipByte(path, offset + ChunkHeader.Size + 4097);
            using (var tier = new NvmeTier(NvmeTierTests.Options(dir.Path) with { VerifyOnRecovery = false }))
            {
                for (int n = 0; n < 2; n++)
                {
                    Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(Layout, TestChunks.Key(n), dstMem.Memory));
                    Assert.Equal(NvmeTierTests.Payload(n), dstMem.GetSpan().ToArray());
                }

                // The damaged chunk read into aligned memory is caught by the payload checksum: a miss, counted.
                Assert.Equal(TierReadStatus.Damaged, await tier.ReadAsync(Layout, TestChunks.Key(2), dstMem.Memory));
                Assert.Equal(1, tier.DamagedReads);
                Assert.False(tier.Contains(TestChunks.Key(2)));
            }
        }
        finally
        {
            Free(src);
            Free(dst);
        }
    }

    [Fact]
    public async Task Aligned_writes_need_no_slot_sized_staging_and_lay_out_the_slot_in_full()
    {
        // A zero-copy write rents a two-page frame (header page, trailer page), never a slot-sized buffer (allocating one
        // took hundreds of milliseconds on a busy machine). The slot on disk is the same as a copied write's: zeros, the
        // header ending where the payload begins, the payload, the trailer (key, parent, sequence), zeros to the page end.
        int cb = Layout.ChunkBytes;
        nint src = Alloc(cb);
        try
        {
            using var srcMem = new NativeMemoryManager(src, cb);
            using var dir = new TempDir();
            var opts = NvmeTierTests.Options(dir.Path);
            using (var tier = new NvmeTier(opts))
            {
                for (int n = 0; n < 3 * opts.EffectiveStagingBuffers; n++)
                {
                    TestChunks.Fill(n, srcMem.GetSpan());
                    ChunkKey? parent = n > 0 ? TestChunks.Key(n - 1) : null;
                    Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), parent, srcMem.Memory));
                }

                Assert.Equal(0, tier.SlotBuffersAllocated);
                long lastSequence = -1;
                for (int n = 0; n < 3; n++)
                {
                    var key = TestChunks.Key(opts.EffectiveStagingBuffers + n);
                    Assert.True(tier.TryLocate(key, out string path, out long headerAt));
                    var slot = new byte[tier.SlotStride];
                    using (var f = File.OpenRead(path))
                    {
                        f.Position = headerAt - NvmeTier.HeaderOffset;
                        f.ReadExactly(slot);
                    }

                    Assert.True(slot.AsSpan(0, NvmeTier.HeaderOffset).IndexOfAnyExcept((byte)0) < 0);
                    Assert.Equal(ChunkDamage.None, ChunkCodec.Verify(slot.AsSpan(NvmeTier.HeaderOffset, ChunkHeader.Size + cb), Layout, key, out _));
                    int trailerAt = BlockFile.Alignment + cb;
                    Assert.True(SlotTrailer.TryRead(slot.AsSpan(trailerAt, SlotTrailer.Size), key, out long sequence, out var parent, out _, out _));
                    Assert.Equal(TestChunks.Key(opts.EffectiveStagingBuffers + n - 1), parent);
                    Assert.True(sequence > lastSequence);
                    lastSequence = sequence;
                    Assert.True(slot.AsSpan(trailerAt + SlotTrailer.Size).IndexOfAnyExcept((byte)0) < 0);
                }
            }
        }
        finally
        {
            Free(src);
        }
    }

    [Fact]
    public async Task Padding_is_written_as_zeros_even_after_the_staging_buffer_held_a_longer_chunk()
    {
        // A staging buffer is shared by unaligned reads and writes. After it held a 16 KiB chunk of one layout, a 4 KiB
        // chunk of another layout must not carry the first chunk's bytes into its slot's padding on disk.
        var small = new KvLayout("test/nvme-small", 1, 1, 4, KvElementType.BFloat16);
        Assert.True(small.ChunkBytes + SlotTrailer.Size < Layout.ChunkBytes);
        var backing = new byte[Layout.ChunkBytes + 1];
        using var dir = new TempDir();
        using var tier = new NvmeTier(NvmeTierTests.Options(dir.Path) with { StagingBuffers = 1 });
        var longChunk = backing.AsMemory(1, Layout.ChunkBytes);
        NvmeTierTests.Payload(1).CopyTo(longChunk);
        Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(1), null, longChunk));
        Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(Layout, TestChunks.Key(1), longChunk));

        var shortChunk = backing.AsMemory(1, small.ChunkBytes);
        shortChunk.Span.Fill(0x5A);
        Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(small, TestChunks.Key(2), null, shortChunk));
        Assert.True(tier.TryLocate(TestChunks.Key(2), out string path, out long headerAt));
        var slot = new byte[BlockFile.Alignment + NvmeTierOptions.AlignUp(small.ChunkBytes + SlotTrailer.Size)];
        using (var f = File.OpenRead(path))
        {
            f.Position = headerAt - NvmeTier.HeaderOffset;
            f.ReadExactly(slot);
        }

        Assert.True(slot.AsSpan(0, NvmeTier.HeaderOffset).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(slot.AsSpan(BlockFile.Alignment + small.ChunkBytes + SlotTrailer.Size).IndexOfAnyExcept((byte)0) < 0);
    }

    private static unsafe nint Alloc(int bytes) => (nint)NativeMemory.AlignedAlloc((nuint)bytes, BlockFile.Alignment);

    private static unsafe void Free(nint p) => NativeMemory.AlignedFree((void*)p);
}
