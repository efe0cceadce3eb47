using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Core.Tests;

/// <summary>Small layouts and stores for tests.</summary>
internal static class TestLayouts
{
    /// <summary>4 tokens per chunk, 2 layers x 2 heads x 4 dims x f16 x 2 (K,V) = 128 bytes per chunk.</summary>
    public static readonly KvLayout Tiny = new("test/tiny", 2, 2, 4, KvElementType.Float16, tokensPerChunk: 4);

    public static HostMemoryTier Dram(int chunks, string policy = "lru", string name = "dram") =>
        new(new HostMemoryTierOptions { CapacityBytes = chunks * 4096L, SlotBytes = Tiny.ChunkBytes, EvictionPolicy = policy, Name = name });

    /// <summary>Deterministic chunk payload derived from the key.</summary>
    public static byte[] PayloadFor(ChunkKey key, KvLayout? layout = null)
    {
        var p = new byte[(layout ?? Tiny).ChunkBytes];
        new Random((int)(key.Low ^ key.High)).NextBytes(p);
        return p;
    }

    public static int[] Tokens(int count, int seed = 0) => [.. Enumerable.Range(0, count).Select(i => (i * 31) + seed)];

    public static byte[] PayloadForPrefix(ChunkKey[] keys)
    {
        var all = new byte[keys.Length * Tiny.ChunkBytes];
        for (int i = 0; i < keys.Length; i++)
        {
            PayloadFor(keys[i]).CopyTo(all, i * Tiny.ChunkBytes);
        }

        return all;
    }

    public static TieredStore NewStore(params IKvTier[] tiers) => new(tiers);
}
