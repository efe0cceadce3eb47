using TierKv.Keys;

namespace TierKv.Core.Tests;

public class KvLayoutTests
{
    [Fact]
    public void Llama3_8B_chunks_are_32_MiB_and_tokens_128_KiB()
    {
        var l = ModelShapes.Get("llama3-8b").Layout;
        Assert.Equal(32 << 20, l.ChunkBytes);
        Assert.Equal(128 << 10, l.BytesPerToken);
        Assert.Equal(1 << 20, l.LayerBytesPerChunk);
    }

    [Theory]
    [InlineData("", 1, 1, 1, 256, 0, 1, "model id")]
    [InlineData("m", 0, 1, 1, 256, 0, 1, "layers")]
    [InlineData("m", 1, -1, 1, 256, 0, 1, "kvHeads")]
    [InlineData("m", 1, 1, 0, 256, 0, 1, "headDim")]
    [InlineData("m", 1, 1, 1, 0, 0, 1, "tokensPerChunk")]
    [InlineData("m", 1, 1, 1, 256, 2, 2, "tensorParallelRank")]
    [InlineData("m", 4096, 64, 1024, 4096, 0, 1, "2 GiB")]
    public void Bad_layouts_are_rejected_with_the_name_of_the_problem(string id, int layers, int heads, int dim, int tpc, int rank, int size, string expected)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => new KvLayout(id, layers, heads, dim, KvElementType.BFloat16, tpc, rank, size));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Equal_fields_give_equal_layouts_and_fingerprints()
    {
        var a = new KvLayout("m", 2, 2, 4, KvElementType.Float16);
        var b = new KvLayout("m", 2, 2, 4, KvElementType.Float16);
        Assert.Equal(a, b);
        Assert.Equal(a.Fingerprint, b.Fingerprint);
        Assert.NotEqual(a.Fingerprint, new KvLayout("m", 2, 2, 4, KvElementType.Float16, tensorParallelSize: 2).Fingerprint);
    }

    [Fact]
    public void Frame_bytes_add_to_the_chunk_not_to_the_kv_and_enter_the_fingerprint()
    {
        var plain = new KvLayout("m", 4, 8, 128, KvElementType.Float16);
        var framed = new KvLayout("m", 4, 8, 128, KvElementType.Float16, frameBytes: 3192);
        Assert.Equal(plain.ChunkBytes + 3192, framed.ChunkBytes);
        Assert.Equal(plain.ChunkBytes, framed.KvBytesPerChunk);
        Assert.Equal(plain.BytesPerToken, framed.BytesPerToken);
        Assert.Equal(plain.LayerBytesPerChunk, framed.LayerBytesPerChunk);
        Assert.NotEqual(plain.Fingerprint, framed.Fingerprint);
        Assert.Equal(plain.Encode(), framed.Encode()[..^4]);
        Assert.Equal(plain.Fingerprint, new KvLayout("m", 4, 8, 128, KvElementType.Float16, frameBytes: 0).Fingerprint);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvLayout("m", 4, 8, 128, KvElementType.Float16, frameBytes: -1));
    }

    [Fact]
    public void Element_type_names_parse_and_unknown_names_are_refused()
    {
        Assert.Equal(KvElementType.BFloat16, KvElementTypes.Parse("bf16"));
        Assert.Equal(KvElementType.Float16, KvElementTypes.Parse("FP16"));
        Assert.Throws<ArgumentException>(() => KvElementTypes.Parse("fp4"));
    }

    [Fact]
    public void Unknown_model_shape_lists_the_known_ones()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelShapes.Get("gpt-5"));
        Assert.Contains("llama3-8b", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chunk_keys_print_and_parse_as_32_hex_digits()
    {
        var k = new ChunkKey(((UInt128)0x0123456789abcdef << 64) | 0xfedcba9876543210);
        Assert.Equal("0123456789abcdeffedcba9876543210", k.ToString());
        Assert.Equal(k, ChunkKey.Parse(k.ToString()));
        Assert.False(ChunkKey.TryParse("xyz", out _));
        Span<byte> b = stackalloc byte[16];
        k.WriteTo(b);
        Assert.Equal(0x01, b[0]);
        Assert.Equal(k, ChunkKey.Read(b));
    }
}
