using System.Text;
using TierKv.Keys;

namespace TierKv.Remote.Tests;

public class RedisKeySchemeTests
{
    [Fact]
    public void A_key_is_the_readable_prefix_the_format_generation_and_the_chunk_key_as_hash_tag()
    {
        var scheme = new RedisKeyScheme("tierkv:prod");
        var key = ChunkKey.Parse("0123456789abcdef0123456789abcdef");
        Assert.Equal("tierkv:prod:v1:{0123456789abcdef0123456789abcdef}", Encoding.ASCII.GetString(scheme.KeyFor(key)));
        Assert.Equal("tierkv:prod:v1:{0123456789abcdef0123456789abcdef}", scheme.KeyStringFor(key));
        Assert.Equal("tierkv:prod:v1:*", scheme.Pattern);
    }

    [Fact]
    public void The_chunks_of_one_prefix_spread_evenly_over_the_cluster_slots()
    {
        var scheme = new RedisKeyScheme("tierkv");
        var keys = PrefixHasher.ComputeKeys(TestData.Layout, TenantSalt.None, TestData.Tokens(3000));
        var thirds = new int[3];
        var slots = new HashSet<int>();
        foreach (var k in keys)
        {
            int slot = Slot(scheme.KeyFor(k));
            slots.Add(slot);
            thirds[Math.Min(2, slot / 5462)]++;
        }

        // 3000 chained keys of one prefix: nearly all in distinct slots, and each third of the slot space (one node
        // of a 3-node cluster) gets close to a third of them.
        Assert.True(slots.Count > 2700, $"{slots.Count} distinct slots");
        Assert.All(thirds, t => Assert.InRange(t, 850, 1150));
    }

    [Fact]
    public void The_slot_depends_on_the_hash_tag_only_so_prefixes_do_not_move_chunks()
    {
        var key = ChunkKey.Parse("00000000000000000000000000000001");
        Assert.Equal(Slot(new RedisKeyScheme("a").KeyFor(key)), Slot(new RedisKeyScheme("tierkv:tenant-x").KeyFor(key)));
    }

    // The Redis Cluster key-to-slot function (CRC16/XMODEM of the hash tag, mod 16384), from the cluster spec.
    private static int Slot(byte[] key)
    {
        ReadOnlySpan<byte> k = key;
        int open = k.IndexOf((byte)'{');
        if (open >= 0)
        {
            int close = k[(open + 1)..].IndexOf((byte)'}');
            if (close > 0)
            {
                k = k.Slice(open + 1, close);
            }
        }

        ushort crc = 0;
        foreach (byte b in k)
        {
            crc ^= (ushort)(b << 8);
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }

        return crc % 16384;
    }
}
