using TierKv.Nvme.Io;

namespace TierKv.Nvme.Tests;

/// <summary>The raw io_uring baseline of <c>tierkv bench ssd</c>: whole blocks, the right offsets and buffers, failures counted.</summary>
public sealed class RawRingTests
{
    private const int Block = 16 * BlockFile.Alignment;

    [SkippableFact]
    public void Blocks_written_from_rotating_buffers_read_back_at_their_offsets()
    {
        using var ring = RawRing.TryCreate(3, out string why);
        Skip.If(ring is null, why);
        using var dir = new TempDir();
        using var file = BlockFile.Open(Path.Combine(dir.Path, "raw.blocks"), preferDirect: true);
        nint[] sources = [DirectIoMemory.Allocate(Block), DirectIoMemory.Allocate(Block)];
        var lanes = new nint[6];
        for (int i = 0; i < lanes.Length; i++)
        {
            lanes[i] = DirectIoMemory.Allocate(Block);
        }

        try
        {
            for (int i = 0; i < sources.Length; i++)
            {
                Span(sources[i]).Fill((byte)(0x41 + i));
            }

            // Blocks 1 to 6 (block 0 stays a hole): block b comes from source b % 2.
            Assert.Equal(0, ring!.Run(file, sources, Block, 1, 6, write: true));
            Assert.Equal(0, ring.Run(file, lanes, Block, 1, 6, write: false));

            // Block b was read into lane b % 6 (one lane per block, so none is read into twice).
            for (int b = 1; b <= 6; b++)
            {
                Assert.True(Span(lanes[b % 6]).IndexOfAnyExcept((byte)(0x41 + (b % 2))) < 0, $"block {b}");
            }

            // Blocks past the end of the file come back short: counted as failures, not thrown.
            Assert.Equal(2, ring.Run(file, lanes, Block, 7, 2, write: false));
        }
        finally
        {
            foreach (var p in sources.Concat(lanes))
            {
                DirectIoMemory.Free(p);
            }
        }
    }

    [Fact]
    public void A_depth_outside_one_to_256_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RawRing.TryCreate(0, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => RawRing.TryCreate(257, out _));
    }

    private static unsafe Span<byte> Span(nint p) => new((void*)p, Block);
}
