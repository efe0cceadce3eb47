using CsCheck;
using TierKv.Chunks;
using TierKv.Keys;

namespace TierKv.Core.Tests;

public class ChunkCodecTests
{
    private static readonly KvLayout Layout = new("test/codec", 1, 1, 8, KvElementType.Float16, tokensPerChunk: 4); // 128-byte chunks
    private static readonly KvLayout Other = new("test/codec-other", 1, 1, 8, KvElementType.Float16, tokensPerChunk: 4);

    private static readonly Gen<(byte[] Payload, UInt128 Key)> GenChunk =
        Gen.Select(Gen.Byte.Array[Layout.ChunkBytes], Gen.UInt, Gen.ULong, (p, hi, lo) => (p, ((UInt128)hi << 64) | lo));

    [Fact]
    public void Round_trip_returns_the_payload()
    {
        GenChunk.Sample(c =>
        {
            var key = new ChunkKey(c.Key);
            var encoded = ChunkCodec.Encode(Layout, key, c.Payload);
            Assert.Equal(ChunkHeader.Size + c.Payload.Length, encoded.Length);
            Assert.Equal(ChunkDamage.None, ChunkCodec.Verify(encoded, Layout, key, out var payload));
            Assert.True(payload.SequenceEqual(c.Payload));
        });
    }

    [Fact]
    public void Any_single_flipped_byte_is_detected()
    {
        Gen.Select(GenChunk, Gen.Int[0, ChunkHeader.Size + Layout.ChunkBytes - 1], Gen.Byte[1, 255]).Sample(t =>
        {
            var ((payload, k), pos, xor) = t;
            var key = new ChunkKey(k);
            var encoded = ChunkCodec.Encode(Layout, key, payload);
            encoded[pos] ^= xor;
            var damage = ChunkCodec.Verify(encoded, Layout, key, out var got);
            Assert.NotEqual(ChunkDamage.None, damage);
            Assert.True(got.IsEmpty);
        }, iter: 2000);
    }

    [Fact]
    public void Any_truncation_is_detected()
    {
        Gen.Select(GenChunk, Gen.Int[0, ChunkHeader.Size + Layout.ChunkBytes - 1]).Sample(t =>
        {
            var ((payload, k), len) = t;
            var key = new ChunkKey(k);
            var encoded = ChunkCodec.Encode(Layout, key, payload);
            Assert.Equal(ChunkDamage.Truncated, ChunkCodec.Verify(encoded.AsSpan(0, len), Layout, key, out _));
        });
    }

    [Fact]
    public void Each_kind_of_damage_has_its_reason()
    {
        var payload = new byte[Layout.ChunkBytes];
        new Random(1).NextBytes(payload);
        var key = new ChunkKey(12345);
        var good = ChunkCodec.Encode(Layout, key, payload);

        var magic = (byte[])good.Clone();
        magic[0] = (byte)'X';
        Assert.Equal(ChunkDamage.BadMagic, ChunkCodec.Verify(magic, Layout, key, out _));

        var version = (byte[])good.Clone();
        version[4] = 9;
        Assert.Equal(ChunkDamage.BadVersion, ChunkCodec.Verify(version, Layout, key, out _));

        var header = (byte[])good.Clone();
        header[56] = 1; // flags are covered by the header checksum
        Assert.Equal(ChunkDamage.BadHeaderChecksum, ChunkCodec.Verify(header, Layout, key, out _));

        Assert.Equal(ChunkDamage.WrongLayout, ChunkCodec.Verify(good, Other, key, out _));
        Assert.Equal(ChunkDamage.WrongKey, ChunkCodec.Verify(good, Layout, new ChunkKey(99), out _));
        Assert.Equal(ChunkDamage.WrongLength, ChunkCodec.Verify(good, Layout.Fingerprint, key, Layout.ChunkBytes * 2, out _));

        var body = (byte[])good.Clone();
        body[^1] ^= 0x80;
        Assert.Equal(ChunkDamage.BadChecksum, ChunkCodec.Verify(body, Layout, key, out _));
        Assert.Equal(ChunkDamage.Truncated, ChunkCodec.Verify(good.AsSpan(0, 10), Layout, key, out _));
    }

    [Fact]
    public void Another_chunks_bytes_under_this_key_are_refused()
    {
        var a = ChunkCodec.Encode(Layout, new ChunkKey(1), new byte[Layout.ChunkBytes]);
        Assert.Equal(ChunkDamage.WrongKey, ChunkCodec.Verify(a, Layout, new ChunkKey(2), out _));
    }

    [Fact]
    public void Random_bytes_never_decode_as_data()
    {
        Gen.Byte.Array[0, 400].Sample(bytes =>
            Assert.NotEqual(ChunkDamage.None, ChunkCodec.Verify(bytes, Layout, new ChunkKey(7), out _)), iter: 2000);
    }

    [Fact]
    public void Encoding_into_a_short_buffer_throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => ChunkCodec.Encode(Layout, new ChunkKey(1), new byte[Layout.ChunkBytes], new byte[100]));
        Assert.Contains("needs", ex.Message, StringComparison.Ordinal);
    }
}
