using TierKv.Keys;
using TierKv.Nvme;

namespace TierKv.Nvme.CrashChild;

/// <summary>Chunks whose bytes follow from their number, so the parent can check what the child stored.</summary>
public static class TestChunks
{
    /// <summary>A small layout: 16 KiB chunks.</summary>
    public static KvLayout Layout { get; } = new("test/nvme-crash", 1, 1, 16, KvElementType.BFloat16);

    /// <summary>The key of chunk number <paramref name="n"/>.</summary>
    public static ChunkKey Key(long n) => new(new UInt128(0x7E57_0000_0000_0000UL ^ (ulong)n, (ulong)n * 0x9E3779B97F4A7C15UL));

    /// <summary>The SSD tier settings the child and the test both use (same geometry, so the test reopens the child's files).</summary>
    public static NvmeTierOptions Options(string dir) => new()
    {
        Directory = dir,
        CapacityBytes = 4096L * Layout.ChunkBytes,
        SlotBytes = Layout.ChunkBytes,
        QueueDepth = 4,
        Log = static _ => { },
    };

    /// <summary>Fills <paramref name="payload"/> with chunk <paramref name="n"/>'s bytes.</summary>
    public static void Fill(long n, Span<byte> payload) => new Random((int)(n * 7919 % int.MaxValue)).NextBytes(payload);
}
