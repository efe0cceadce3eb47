using CsCheck;
using TierKv.Cuda.Checks;
using TierKv.Cuda.Paged;
using TierKv.Keys;

namespace TierKv.Cuda.Tests;

public sealed class PagedKvReferenceTests
{
    private static KvLayout Layout(KvElementType type, int layers = 3, int heads = 2, int dim = 8, int tokens = 64) =>
        new("test/paged", layers, heads, dim, type, tokensPerChunk: tokens);

    [Theory]
    [InlineData(KvElementType.BFloat16, 16)]
    [InlineData(KvElementType.BFloat16, 32)]
    [InlineData(KvElementType.Float16, 16)]
    [InlineData(KvElementType.Float16, 32)]
    public void Scatter_then_gather_round_trips_bit_exact_for_random_page_tables(KvElementType type, int blockSize)
    {
        Gen.Select(Gen.Int[1, 4], Gen.Int[0, 9], Gen.Int).Sample((chunks, spare, seed) =>
        {
            var layout = Layout(type);
            int pages = chunks * (layout.TokensPerChunk / blockSize);
            var g = new PagedKvGeometry(layout, blockSize, pages + spare);
            int[] table = TestPattern.PageTable(pages, g.NumBlocks, seed);
            var source = new byte[chunks * layout.ChunkBytes];
            TestPattern.Fill(source, (ulong)seed);
            var paged = new byte[g.Layers * g.LayerTensorBytes];
            PagedKvReference.Scatter(g, source, table, paged);
            var back = new byte[source.Length];
            back.AsSpan().Fill(0xCD);
            PagedKvReference.Gather(g, paged, table, back);
            return back.AsSpan().SequenceEqual(source);
        }, iter: 50);
    }

    [Theory]
    [InlineData(KvElementType.BFloat16, 16)]
    [InlineData(KvElementType.Float16, 32)]
    public void Each_element_lands_where_the_vllm_layout_puts_it(KvElementType type, int blockSize)
    {
        // Element-level index arithmetic, written independently of the page-level copies under test.
        var layout = Layout(type, layers: 2, heads: 3, dim: 4, tokens: 64);
        const int chunks = 2;
        int pages = chunks * (layout.TokensPerChunk / blockSize);
        var g = new PagedKvGeometry(layout, blockSize, pages + 3);
        int[] table = TestPattern.PageTable(pages, g.NumBlocks, 7);
        int es = KvElementTypes.SizeOf(type);
        var source = new byte[chunks * layout.ChunkBytes];
        TestPattern.Fill(source, 99);
        var paged = new byte[g.Layers * g.LayerTensorBytes];
        PagedKvReference.Scatter(g, source, table, paged);
        int T = layout.TokensPerChunk, H = layout.KvHeads, D = layout.HeadDim;
        for (int c = 0; c < chunks; c++)
        {
            for (int l = 0; l < layout.Layers; l++)
            {
                for (int kv = 0; kv < 2; kv++)
                {
                    for (int t = 0; t < T; t++)
                    {
                        for (int h = 0; h < H; h++)
                        {
                            for (int d = 0; d < D; d++)
                            {
                                // Chunk: [layers][2][tokens][heads][dim]; paged layer: [2][num_blocks][block_size][heads][dim].
                                long chunkIndex = (long)c * layout.ChunkBytes / es + ((((((long)l * 2) + kv) * T + t) * H + h) * D) + d;
                                int requestToken = (c * T) + t;
                                int block = table[requestToken / blockSize];
                                long pagedIndex = (l * g.LayerTensorBytes / es) + (((((long)kv * g.NumBlocks + block) * blockSize + (requestToken % blockSize)) * H + h) * D) + d;
                                Assert.True(
                                    source.AsSpan((int)(chunkIndex * es), es).SequenceEqual(paged.AsSpan((int)(pagedIndex * es), es)),
                                    $"chunk {c} layer {l} kv {kv} token {t} head {h} dim {d}");
                            }
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Pages_outside_the_page_table_are_untouched()
    {
        var layout = Layout(KvElementType.BFloat16);
        var g = new PagedKvGeometry(layout, 16, 20);
        int[] table = TestPattern.PageTable(4, g.NumBlocks, 3);
        var source = new byte[layout.ChunkBytes];
        TestPattern.Fill(source, 5);
        var paged = new byte[g.Layers * g.LayerTensorBytes];
        paged.AsSpan().Fill(0xCD);
        PagedKvReference.Scatter(g, source, table, paged);
        for (int l = 0; l < g.Layers; l++)
        {
            for (int block = 0; block < g.NumBlocks; block++)
            {
                if (Array.IndexOf(table, block) >= 0)
                {
                    continue;
                }

                for (int kv = 0; kv < 2; kv++)
                {
                    var page = paged.AsSpan((int)((l * g.LayerTensorBytes) + g.PagedOffset(block, kv)), (int)g.PageBytes);
                    Assert.True(page.IndexOfAnyExcept((byte)0xCD) < 0, $"layer {l} block {block} kv {kv} was written");
                }
            }
        }
    }

    [Fact]
    public void Per_layer_and_per_chunk_address_forms_equal_the_whole_request_form()
    {
        var layout = Layout(KvElementType.Float16, layers: 4);
        const int chunks = 3;
        var g = new PagedKvGeometry(layout, 32, (chunks * 2) + 5);
        int[] table = TestPattern.PageTable(chunks * 2, g.NumBlocks, 11);
        var paged = new byte[g.Layers * g.LayerTensorBytes];
        TestPattern.Fill(paged, 12);
        var whole = new byte[chunks * layout.ChunkBytes];
        PagedKvReference.Gather(g, paged, table, whole);

        // Chunks in separate buffers, visited layer by layer, in reverse layer order.
        var separate = new byte[chunks][];
        var handles = new System.Runtime.InteropServices.GCHandle[chunks];
        var addresses = new nint[chunks];
        try
        {
            for (int c = 0; c < chunks; c++)
            {
                separate[c] = new byte[layout.ChunkBytes];
                handles[c] = System.Runtime.InteropServices.GCHandle.Alloc(separate[c], System.Runtime.InteropServices.GCHandleType.Pinned);
                addresses[c] = handles[c].AddrOfPinnedObject();
            }

            for (int l = g.Layers - 1; l >= 0; l--)
            {
                PagedKvReference.GatherLayer(g, l, paged.AsSpan((int)(l * g.LayerTensorBytes), (int)g.LayerTensorBytes), table, addresses);
            }

            for (int c = 0; c < chunks; c++)
            {
                Assert.True(separate[c].AsSpan().SequenceEqual(whole.AsSpan(c * layout.ChunkBytes, layout.ChunkBytes)), $"chunk {c}");
            }

            var scattered = new byte[g.LayerTensorBytes];
            var expected = new byte[g.LayerTensorBytes];
            PagedKvReference.ScatterLayer(g, 2, addresses, table, scattered);
            PagedKvReference.ScatterLayer(g, 2, whole, table, expected);
            Assert.True(scattered.AsSpan().SequenceEqual(expected));
        }
        finally
        {
            foreach (var h in handles)
            {
                if (h.IsAllocated)
                {
                    h.Free();
                }
            }
        }
    }

    [Fact]
    public void Chunk_layout_is_layer_major()
    {
        // Layer l of a chunk is one contiguous range: K of all its tokens, then V.
        var layout = Layout(KvElementType.BFloat16, layers: 3, heads: 2, dim: 8, tokens: 32);
        var g = new PagedKvGeometry(layout, 16, 2);
        Assert.Equal(layout.ChunkBytes / 3, g.ChunkLayerBytes);
        Assert.Equal(g.ChunkLayerBytes / 2, g.ChunkKvStride);
        Assert.Equal((2 * g.ChunkLayerBytes) + g.ChunkKvStride + g.PageBytes, g.ChunkOffset(2, 1, 1));
    }

    [Fact]
    public void Llama3_8b_pages_are_32_KiB_at_block_size_16_and_64_KiB_at_32()
    {
        var layout = ModelShapes.Get("llama3-8b").Layout;
        Assert.Equal(32 * 1024, new PagedKvGeometry(layout, 16, 1).PageBytes);
        Assert.Equal(64 * 1024, new PagedKvGeometry(layout, 32, 1).PageBytes);
        Assert.Equal(16, new PagedKvGeometry(layout, 16, 1).PagesPerChunk);
    }

    [Fact]
    public void Bad_page_tables_are_rejected_naming_the_entry()
    {
        var layout = Layout(KvElementType.BFloat16);
        var g = new PagedKvGeometry(layout, 16, 10);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => g.ValidatePageTable([0, 1, 10, 3], 1));
        Assert.Contains("entry 2", ex.Message, StringComparison.Ordinal);
        var dup = Assert.Throws<ArgumentException>(() => g.ValidatePageTable([0, 1, 1, 3], 1));
        Assert.Contains("repeats block 1", dup.Message, StringComparison.Ordinal);
        var len = Assert.Throws<ArgumentException>(() => g.ValidatePageTable([0, 1, 2], 1));
        Assert.Contains("need 4", len.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_block_size_that_does_not_divide_the_chunk_is_rejected()
    {
        var layout = Layout(KvElementType.BFloat16, tokens: 48);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new PagedKvGeometry(layout, 32, 4));
        Assert.Contains("divide", ex.Message, StringComparison.Ordinal);
    }
}
