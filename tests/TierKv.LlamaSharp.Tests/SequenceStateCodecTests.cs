using System.Buffers.Binary;
using CsCheck;
using TierKv.Keys;
using TierKv.LlamaSharp.State;

namespace TierKv.LlamaSharp.Tests;

/// <summary>The codec against states built by hand in llama.cpp's format (docs/llamacpp.md).</summary>
public sealed class SequenceStateCodecTests
{
    private static readonly KvLayout Layout = SequenceStateCodec.LayoutOf("codec-test", 3, 2, 8, KvElementType.Float16);

    /// <summary>A state as llama.cpp writes it: per layer K rows, then V rows (or V channel-major when transposed).</summary>
    internal static byte[] BuildState(KvLayout layout, int tokens, int seqId, bool vTrans, int seed, int ggmlType = 1, int firstPos = 0)
    {
        int el = KvElementTypes.SizeOf(layout.ElementType);
        int embd = layout.KvHeads * layout.HeadDim;
        int row = embd * el;
        var rnd = new Random(seed);
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(SequenceStateCodec.IoMagic);
        w.Write(seqId);
        w.Write(1u);
        w.Write((uint)tokens);
        for (int i = 0; i < tokens; i++)
        {
            w.Write(firstPos + i);
            w.Write(1u);
            w.Write(seqId);
        }

        w.Write(vTrans ? 1u : 0u);
        w.Write((uint)layout.Layers);
        var data = new byte[tokens * row];
        for (int l = 0; l < layout.Layers; l++)
        {
            w.Write(ggmlType);
            w.Write((ulong)row);
            rnd.NextBytes(data);
            w.Write(data);
        }

        for (int l = 0; l < layout.Layers; l++)
        {
            w.Write(ggmlType);
            if (vTrans)
            {
                w.Write((uint)el);
                w.Write((uint)embd);
            }
            else
            {
                w.Write((ulong)row);
            }

            rnd.NextBytes(data);
            w.Write(data);
        }

        return ms.ToArray();
    }

    [Theory]
    [InlineData(300, false)]
    [InlineData(777, false)]
    [InlineData(513, true)]
    public void Cut_then_assemble_gives_back_the_state_of_the_whole_chunks(int tokens, bool vTrans)
    {
        var codec = new SequenceStateCodec(Layout, 1);
        for (int seq = 0; seq < 3; seq++)
        {
            var blob = BuildState(Layout, tokens, seq, vTrans, seed: (tokens * 7) + seq);
            Assert.True(codec.TryParse(blob, out var state, out string reason), reason);
            int chunks = tokens / Layout.TokensPerChunk;
            var payload = new byte[chunks * Layout.ChunkBytes];
            codec.Cut(blob, state!, 0, chunks, payload);

            // The state llama.cpp would write for the first chunks × 256 tokens of the same sequence.
            int n = chunks * Layout.TokensPerChunk;
            var expected = Truncate(blob, state!, n, vTrans);
            var assembled = new byte[codec.BlobBytes(n)];
            unsafe
            {
                fixed (byte* p = payload)
                {
                    codec.Assemble(ChunkPointers(p, chunks), assembled, seq, vTrans, parallelism: 2);
                }
            }

            Assert.Equal(expected, assembled);
        }
    }

    [Fact]
    public void Each_chunk_is_llamas_state_of_its_own_cells()
    {
        // What lets a restore hand llama.cpp a chunk where it lies: chunk c is the state of a sequence holding only its
        // cells, i.e. that chunk alone assembled at its index, and chunk 0 is the state of the first 256 tokens.
        var codec = new SequenceStateCodec(Layout, 1);
        Assert.Equal(codec.BlobBytes(Layout.TokensPerChunk), Layout.ChunkBytes);
        Assert.Equal(Layout.ChunkBytes - Layout.KvBytesPerChunk, SequenceStateCodec.FrameBytesFor(Layout.Layers, Layout.TokensPerChunk));
        foreach (bool vTrans in (bool[])[false, true])
        {
            var blob = BuildState(Layout, 700, 0, vTrans, seed: vTrans ? 21 : 22);
            Assert.True(codec.TryParse(blob, out var state, out string reason), reason);
            var chunks = new byte[2 * Layout.ChunkBytes];
            codec.Cut(blob, state!, 0, 2, chunks);
            Assert.Equal(Truncate(blob, state!, Layout.TokensPerChunk, vTrans), chunks[..Layout.ChunkBytes]);
            var alone = new byte[Layout.ChunkBytes];
            unsafe
            {
                fixed (byte* p = chunks)
                {
                    var ptrs = ChunkPointers(p, 2);
                    Assert.Equal(2, codec.CheckChunks(ptrs, 2, out reason));
                    Assert.Equal(vTrans, codec.ChunkVTransposed(ptrs[1]));
                    codec.AssembleAt(ptrs.AsSpan(1, 1), 1, alone, 0, vTrans);
                }
            }

            Assert.Equal(chunks[Layout.ChunkBytes..], alone);
        }
    }

    [Fact]
    public void Chunks_stored_in_one_v_orientation_assemble_into_the_other()
    {
        // A context without flash attention (V transposed) restores chunks stored by one with it, and the other way.
        var codec = new SequenceStateCodec(Layout, 1);
        var rows = BuildState(Layout, 512, 0, vTrans: false, seed: 5);
        Assert.True(codec.TryParse(rows, out var s1, out _));
        var rowChunks = new byte[2 * Layout.ChunkBytes];
        codec.Cut(rows, s1!, 0, 2, rowChunks);
        var transposed = new byte[codec.BlobBytes(512)];
        var back = new byte[rows.Length];
        unsafe
        {
            fixed (byte* p = rowChunks)
            {
                codec.Assemble(ChunkPointers(p, 2), transposed, 0, vTransposed: true);
            }

            Assert.True(codec.TryParse(transposed, out var s2, out string reason), reason);
            Assert.True(s2!.VTransposed);
            var columnChunks = new byte[rowChunks.Length];
            codec.Cut(transposed, s2, 0, 2, columnChunks);
            Assert.NotEqual(rowChunks, columnChunks);
            fixed (byte* p = columnChunks)
            {
                codec.Assemble(ChunkPointers(p, 2), back, 0, vTransposed: false);
            }
        }

        Assert.Equal(rows, back);
    }

    public static TheoryData<string> ChunkDamage => ["magic", "cells", "position", "vtrans", "vtype", "index"];

    [Theory]
    [MemberData(nameof(ChunkDamage))]
    public void A_chunk_that_is_not_the_state_of_its_cells_is_not_handed_to_llama(string damage)
    {
        var codec = new SequenceStateCodec(Layout, 1);
        var blob = BuildState(Layout, 768, 0, false, seed: 4);
        Assert.True(codec.TryParse(blob, out var state, out _));
        var chunks = new byte[3 * Layout.ChunkBytes];
        codec.Cut(blob, state!, 0, 3, chunks);
        int second = Layout.ChunkBytes, meta = 16 + (Layout.TokensPerChunk * 12);
        switch (damage)
        {
            case "magic": chunks[second] ^= 1; break;
            case "cells": BinaryPrimitives.WriteUInt32LittleEndian(chunks.AsSpan(second + 12), 255); break;
            case "position": BinaryPrimitives.WriteInt32LittleEndian(chunks.AsSpan(second + 16 + (12 * 9)), 3); break;
            case "vtrans": BinaryPrimitives.WriteUInt32LittleEndian(chunks.AsSpan(second + meta), 1); break;
            case "vtype": BinaryPrimitives.WriteInt32LittleEndian(chunks.AsSpan(second + meta + 8 + (Layout.Layers * (12 + (Layout.TokensPerChunk * codec.RowBytes)))), 0); break;
            case "index": chunks.AsSpan(0, second).CopyTo(chunks.AsSpan(second)); break;
        }

        unsafe
        {
            fixed (byte* p = chunks)
            {
                Assert.Equal(1, codec.CheckChunks(ChunkPointers(p, 3), 3, out string reason));
                Assert.StartsWith("chunk 1", reason, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void A_codec_needs_a_layout_framed_for_llama_states()
    {
        var unframed = new KvLayout("codec-test", 3, 2, 8, KvElementType.Float16);
        Assert.Throws<ArgumentException>(() => new SequenceStateCodec(unframed, 1));
        Assert.NotEqual(unframed.Fingerprint, Layout.Fingerprint);
        Assert.Equal(unframed.KvBytesPerChunk, Layout.KvBytesPerChunk);
        Assert.Equal(unframed.BytesPerToken, Layout.BytesPerToken);
    }

    [Fact]
    public void A_middle_chunk_is_cut_from_its_token_range()
    {
        var codec = new SequenceStateCodec(Layout, 1);
        var blob = BuildState(Layout, 800, 1, false, seed: 9);
        Assert.True(codec.TryParse(blob, out var state, out _));
        var all = new byte[3 * Layout.ChunkBytes];
        codec.Cut(blob, state!, 0, 3, all);
        var second = new byte[Layout.ChunkBytes];
        codec.Cut(blob, state!, 1, 1, second);
        Assert.Equal(all.AsSpan(Layout.ChunkBytes, Layout.ChunkBytes).ToArray(), second);
    }

    [Fact]
    public void A_group_assembled_at_a_later_chunk_is_the_same_state_at_later_positions()
    {
        // A chunked restore hands llama.cpp chunks k..k+n-1 as a state of their own: the bytes of the state of those chunks
        // assembled from position 0, but with cell positions from k × 256, on one thread or several.
        var codec = new SequenceStateCodec(Layout, 1);
        Gen.Select(Gen.Int[1, 3], Gen.Int[0, 5], Gen.Bool, Gen.Int[0, 3], Gen.Int).Sample((n, first, vTrans, seq, seed) =>
        {
            var payload = RandomChunks(n, seed);
            int tokens = n * Layout.TokensPerChunk;
            var fromZero = new byte[codec.BlobBytes(tokens)];
            var atFirst = new byte[fromZero.Length];
            var parallel = new byte[fromZero.Length];
            unsafe
            {
                fixed (byte* p = payload)
                {
                    var ptrs = ChunkPointers(p, n);

                    codec.Assemble(ptrs, fromZero, seq, vTrans);
                    codec.AssembleAt(ptrs, first, atFirst, seq, vTrans);
                    codec.AssembleAt(ptrs, first, parallel, seq, vTrans, parallelism: 2);
                }
            }

            Assert.Equal(atFirst, parallel);
            for (int i = 0; i < tokens; i++)
            {
                int o = 16 + (i * 12);
                Assert.Equal((first * Layout.TokensPerChunk) + i, BinaryPrimitives.ReadInt32LittleEndian(atFirst.AsSpan(o)));
                BinaryPrimitives.WriteInt32LittleEndian(atFirst.AsSpan(o), i);
            }

            Assert.Equal(fromZero, atFirst);
        }, iter: 40);
    }

    [Fact]
    public void A_part_of_a_chunk_is_the_state_of_those_tokens_cut_from_the_whole_state()
    {
        // A wide model's chunk is restored in parts (LlamaKvConnector.RestoreGroupBytes): the state of tokens a..a+m-1
        // must be the whole state's cells and rows of those tokens, whatever chunks the range starts and ends in.
        var codec = new SequenceStateCodec(Layout, 1);
        int tpc = Layout.TokensPerChunk, row = codec.RowBytes, el = codec.ElementBytes, embd = codec.Embd, parts = 2 * Layout.Layers;
        Gen.Select(Gen.Int[1, 3], Gen.Double[0.0, 1.0], Gen.Double[0.0, 1.0], Gen.Bool, Gen.Int).Sample((n, fa, fm, vTrans, seed) =>
        {
            int total = n * tpc;
            int a = (int)(fa * (total - 1)), m = 1 + (int)(fm * (total - a - 1));
            var payload = RandomChunks(n, seed);
            var whole = new byte[codec.BlobBytes(total)];
            var part = new byte[codec.BlobBytes(m)];
            var parallel = new byte[part.Length];
            unsafe
            {
                fixed (byte* p = payload)
                {
                    var ptrs = ChunkPointers(p, n);

                    codec.Assemble(ptrs, whole, 3, vTrans);
                    var from = ptrs.AsSpan((a / tpc)..(((a + m - 1) / tpc) + 1));
                    codec.AssembleTokens(from, a, m, part, 3, vTrans);
                    codec.AssembleTokens(from, a, m, parallel, 3, vTrans, parallelism: 2);
                }
            }

            Assert.Equal(part, parallel);
            var expected = new byte[part.Length];
            whole.AsSpan(0, 16).CopyTo(expected);
            BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(12), (uint)m);
            whole.AsSpan(16 + (a * 12), m * 12).CopyTo(expected.AsSpan(16));
            whole.AsSpan(16 + (total * 12), 8).CopyTo(expected.AsSpan(16 + (m * 12)));
            for (int k = 0; k < parts; k++)
            {
                int src = 16 + (total * 12) + 8 + (k * (12 + (total * row)));
                int dst = 16 + (m * 12) + 8 + (k * (12 + (m * row)));
                whole.AsSpan(src, 12).CopyTo(expected.AsSpan(dst));
                if (k < Layout.Layers || !vTrans)
                {
                    whole.AsSpan(src + 12 + (a * row), m * row).CopyTo(expected.AsSpan(dst + 12));
                    continue;
                }

                for (int j = 0; j < embd; j++)
                {
                    whole.AsSpan(src + 12 + (((j * total) + a) * el), m * el).CopyTo(expected.AsSpan(dst + 12 + (j * m * el)));
                }
            }

            Assert.Equal(expected, part);
        }, iter: 60);
    }

    /// <summary><paramref name="n"/> chunks of a random state, with V transposed or not (by the seed's parity).</summary>
    private static byte[] RandomChunks(int n, int seed)
    {
        var codec = new SequenceStateCodec(Layout, 1);
        var blob = BuildState(Layout, n * Layout.TokensPerChunk, 0, vTrans: (seed & 1) == 1, seed);
        Assert.True(codec.TryParse(blob, out var state, out string reason), reason);
        var chunks = new byte[n * Layout.ChunkBytes];
        codec.Cut(blob, state!, 0, n, chunks);
        return chunks;
    }

    /// <summary>Pointers to the <paramref name="n"/> chunks laid one after another from <paramref name="p"/>.</summary>
    private static unsafe nint[] ChunkPointers(byte* p, int n)
    {
        var ptrs = new nint[n];
        for (int c = 0; c < n; c++)
        {
            ptrs[c] = (nint)(p + ((long)c * Layout.ChunkBytes));
        }

        return ptrs;
    }

    public static TheoryData<string> Damage => ["magic", "streams", "positions", "layers", "ktype", "rowsize", "truncated", "trailing", "vtype"];

    [Theory]
    [MemberData(nameof(Damage))]
    public void A_state_the_codec_cannot_vouch_for_is_rejected_with_a_reason(string damage)
    {
        var codec = new SequenceStateCodec(Layout, 1);
        var blob = BuildState(Layout, 300, 0, false, seed: 3);
        int meta = 16 + (300 * 12);
        int kHeader = meta + 8;
        int layerBytes = 12 + (300 * 32);
        switch (damage)
        {
            case "magic": blob[0] ^= 1; break;
            case "streams": BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(8), 2); break;
            case "positions": BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(16 + (12 * 5)), 7); break;
            case "layers": BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(meta + 4), 4); break;
            case "ktype": BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(kHeader + layerBytes), 8); break;
            case "rowsize": BinaryPrimitives.WriteUInt64LittleEndian(blob.AsSpan(kHeader + 4), 34); break;
            case "truncated": blob = blob[..^1]; break;
            case "trailing": blob = [.. blob, 0]; break;
            case "vtype": BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(kHeader + (3 * layerBytes)), 0); break;
        }

        Assert.False(codec.TryParse(blob, out _, out string reason));
        Assert.False(string.IsNullOrEmpty(reason));
    }

    [Fact]
    public void Another_kv_type_is_not_parsed_by_an_f16_codec()
    {
        var codec = new SequenceStateCodec(Layout, 1);
        var f32Layout = SequenceStateCodec.LayoutOf("codec-test", 3, 2, 8, KvElementType.Float32);
        var blob = BuildState(f32Layout, 300, 0, false, seed: 1, ggmlType: 0);
        Assert.False(codec.TryParse(blob, out _, out string reason));
        Assert.Contains("type", reason, StringComparison.Ordinal);
    }

    /// <summary>The state of the first <paramref name="n"/> tokens, cut out of a longer one.</summary>
    private static byte[] Truncate(byte[] blob, ParsedSequenceState s, int n, bool vTrans)
    {
        int row = Layout.KvHeads * Layout.HeadDim * 2;
        var ms = new MemoryStream();
        ms.Write(blob, 0, 12);
        ms.Write(BitConverter.GetBytes((uint)n));
        ms.Write(blob, 16, n * 12);
        int afterCells = 16 + (s.Tokens * 12);
        ms.Write(blob, afterCells, 8);
        for (int l = 0; l < Layout.Layers; l++)
        {
            ms.Write(blob, (int)s.KData[l] - 12, 12);
            ms.Write(blob, (int)s.KData[l], n * row);
        }

        for (int l = 0; l < Layout.Layers; l++)
        {
            ms.Write(blob, (int)s.VData[l] - 12, 12);
            if (!vTrans)
            {
                ms.Write(blob, (int)s.VData[l], n * row);
            }
            else
            {
                for (int j = 0; j < row / 2; j++)
                {
                    ms.Write(blob, (int)s.VData[l] + (j * s.Tokens * 2), n * 2);
                }
            }
        }

        return ms.ToArray();
    }
}
