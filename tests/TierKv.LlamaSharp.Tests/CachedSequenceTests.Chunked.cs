using LLama;
using LLama.Common;
using LLama.Native;
using TierKv.Keys;
using TierKv.LlamaSharp.Model;
using TierKv.LlamaSharp.Session;

namespace TierKv.LlamaSharp.Tests;

/// <summary>Restores through a scratch sequence, chunk group by chunk group (<see cref="LlamaKvConnector.ScratchSequence"/>).</summary>
public sealed partial class CachedSequenceTests
{
    private static readonly LLamaSeqId Scratch = (LLamaSeqId)1;

    /// <summary>Flash attention, chunks per group, and the most KV bytes a group holds (the tiny model's chunk is 64 KiB).</summary>
    public static TheoryData<bool, int, long> ChunkedModes => new()
    {
        { true, 1, LlamaKvConnector.DefaultRestoreGroupBytes },
        { true, 3, LlamaKvConnector.DefaultRestoreGroupBytes },
        { false, 1, LlamaKvConnector.DefaultRestoreGroupBytes },
        { false, 2, LlamaKvConnector.DefaultRestoreGroupBytes },
        { true, 1, 16 * 1024 },
        { false, 1, 40 * 1024 },
    };

    [Theory]
    [MemberData(nameof(ChunkedModes))]
    public async Task A_chunked_restore_gives_the_logits_of_llamas_own_cache(bool flashAttention, int group, long groupBytes)
    {
        using var ctx = fixture.Weights.CreateContext(Unified(TinyModelFixture.Params(fixture.ModelPath, flashAttention), 2));
        var (_, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            conn.ScratchSequence = Scratch;
            conn.RestoreGroupChunks = group;
            conn.RestoreGroupBytes = groupBytes;
            Assert.Equal(!flashAttention, conn.VTransposed);
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 1100);
            int[] prompt = [.. history, .. TinyModelFixture.Tokens(ctx, 40, seed: 8)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn, prompt);
            Assert.Equal(1024, restore.RestoredTokens);
            Assert.Equal(1024, restore.ServedTokens["dram"]);
            Assert.Equal(0, conn.FailedRestores);
            Assert.True(conn.LastPhases!.ShareSeconds > 0);

            // The chunks were stored by this context, in its V orientation: llama.cpp read them where they lie.
            Assert.Equal(0, conn.LastPhases.AssembleSeconds);
            Assert.Equal(-1, ctx.NativeHandle.MemorySequenceMaxPosition(Scratch).Value);
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, restore.RestoredTokens), cached);
        }
    }

    [Theory]
    [InlineData(LlamaKvConnector.DefaultRestoreGroupBytes)]
    [InlineData(16 * 1024)]
    public async Task A_group_llama_refuses_keeps_the_chunks_before_it_and_leaves_the_rest_to_recompute(long groupBytes)
    {
        // Another sequence holds 1,124 of the 2,048 cells: three groups of one chunk fit, the fourth does not. In parts of
        // 64 tokens (16 KiB), fourteen fit: the half chunk restored before the refusal is taken out again.
        using var ctx = fixture.Weights.CreateContext(Unified(TinyModelFixture.Params(fixture.ModelPath), 3));
        var (_, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            conn.ScratchSequence = Scratch;
            conn.RestoreGroupBytes = groupBytes;
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 1100);
            var expected = Chunks(ctx, conn, Seq, 3);
            var other = (LLamaSeqId)2;
            ctx.NativeHandle.MemorySequenceRemove(Seq, -1, -1);
            new LlamaDecoder(ctx.NativeHandle, 512).Decode(other, TinyModelFixture.Tokens(ctx, 1124, seed: 9), 0, new float[ctx.Vocab.Count]);

            var restore = conn.Restore(Seq, [.. history, .. TinyModelFixture.Tokens(ctx, 40, seed: 8)]);
            Assert.Equal(768, restore.RestoredTokens);
            Assert.Equal(768, restore.ServedTokens["dram"]);
            Assert.Equal(3L * conn.Layout!.KvBytesPerChunk, restore.KvBytes);
            Assert.Equal(1, conn.FailedRestores);
            Assert.Equal(767, ctx.NativeHandle.MemorySequenceMaxPosition(Seq).Value);
            Assert.Equal(-1, ctx.NativeHandle.MemorySequenceMaxPosition(Scratch).Value);
            Assert.Equal(1123, ctx.NativeHandle.MemorySequenceMaxPosition(other).Value);
            Assert.Equal(expected, Chunks(ctx, conn, Seq, 3));
        }
    }

    [Fact]
    public async Task Llama_reads_a_chunk_as_the_state_of_its_cells_and_empties_the_sequence_first()
    {
        // What the restore path relies on, checked on the llama.cpp build LLamaSharp ships (docs/llamacpp.md,
        // "Restoring"): llama_state_seq_set_data takes a chunk's bytes as they are stored, and removes the sequence's cells
        // before reading, so the sequence then holds exactly the chunk's cells.
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        var (_, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            await LlamaTurns.FirstTurnAsync(ctx, conn, 600);
            var chunks = Chunks(ctx, conn, Seq, 2);
            var h = ctx.NativeHandle;
            Assert.True(h.MemorySequenceMaxPosition(Seq).Value >= 599);
            unsafe
            {
                fixed (byte* p = chunks)
                {
                    int cb = conn.Layout!.ChunkBytes;
                    Assert.Equal((nuint)cb, h.SetState(p + cb, (nuint)cb, Seq));
                }
            }

            Assert.Equal(256, h.MemorySequenceMinPosition(Seq).Value);
            Assert.Equal(511, h.MemorySequenceMaxPosition(Seq).Value);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Chunks_stored_by_a_context_with_the_other_v_orientation_are_assembled_and_read_back_byte_for_byte(bool storedWithFlashAttention)
    {
        using var stored = fixture.Weights.CreateContext(Unified(TinyModelFixture.Params(fixture.ModelPath, storedWithFlashAttention), 2));
        using var other = fixture.Weights.CreateContext(Unified(TinyModelFixture.Params(fixture.ModelPath, !storedWithFlashAttention), 2));
        var (model, store, conn) = Open(stored, ssd: false);
        using (store)
        {
            var history = await LlamaTurns.FirstTurnAsync(stored, conn, 600);
            var expected = Chunks(stored, conn, Seq, 2);
            using var reader = new LlamaKvConnector(other.NativeHandle, model, store, Seq, log: _ => { }) { ScratchSequence = Scratch };
            reader.Planner.ObservePrefill(1000, 0, 1000);
            reader.Planner.LearnPrefillSpeed = false;
            Assert.NotEqual(conn.VTransposed, reader.VTransposed);

            var restore = reader.Restore(Seq, [.. history, .. TinyModelFixture.Tokens(other, 20, seed: 3)]);
            Assert.Equal(512, restore.RestoredTokens);
            Assert.True(reader.LastPhases!.AssembleSeconds > 0);
            var read = Chunks(other, reader, Seq, 2);
            Assert.Equal(Rows(conn, expected, 2), Rows(reader, read, 2));
        }
    }

    /// <summary>The state of <paramref name="count"/> chunks with V as rows, whatever orientation they hold.</summary>
    private static unsafe byte[] Rows(LlamaKvConnector conn, byte[] chunks, int count)
    {
        var codec = conn.Codec!;
        var blob = new byte[codec.BlobBytes(count * codec.Layout.TokensPerChunk)];
        fixed (byte* p = chunks)
        {
            var ptrs = new nint[count];
            for (int c = 0; c < count; c++)
            {
                ptrs[c] = (nint)(p + ((long)c * codec.Layout.ChunkBytes));
            }

            codec.Assemble(ptrs, blob, 0, vTransposed: false);
        }

        return blob;
    }

    [Fact]
    public void A_scratch_sequence_needs_a_unified_cache_and_a_sequence_nobody_uses()
    {
        using (var single = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath)))
        {
            var (_, store, conn) = Open(single, ssd: false);
            using (store)
            {
                Assert.Throws<ArgumentOutOfRangeException>(() => conn.ScratchSequence = Scratch);
                Assert.Null(conn.ScratchSequence);
            }
        }

        var split = TinyModelFixture.Params(fixture.ModelPath);
        split.SeqMax = 2;
        split.KVUnified = false;
        using (var ctx = fixture.Weights.CreateContext(split))
        {
            Assert.False(LlamaKvConnector.HasUnifiedKvCache(ctx.NativeHandle));
            var model = LlamaModelFile.Open(fixture.ModelPath, _data);
            var (_, store, conn) = Open(ctx, model, LlamaKvConnector.LayoutOf(model, KvElementType.Float16), ssd: false, enabled: false);
            using (store)
            {
                var e = Assert.Throws<ArgumentException>(() => conn.ScratchSequence = Scratch);
                Assert.Contains("KVUnified", e.Message, StringComparison.Ordinal);
            }
        }

        using (var ctx = fixture.Weights.CreateContext(Unified(TinyModelFixture.Params(fixture.ModelPath), 2)))
        {
            Assert.True(LlamaKvConnector.HasUnifiedKvCache(ctx.NativeHandle));
            var (_, store, conn) = Open(ctx, ssd: false);
            using (store)
            {
                new LlamaDecoder(ctx.NativeHandle, 512).Decode(Scratch, TinyModelFixture.Tokens(ctx, 10, seed: 1), 0, new float[ctx.Vocab.Count]);
                Assert.Contains("holds tokens", Assert.Throws<ArgumentException>(() => conn.ScratchSequence = Scratch).Message, StringComparison.Ordinal);
                ctx.NativeHandle.MemorySequenceRemove(Scratch, -1, -1);
                conn.ScratchSequence = Scratch;
                Assert.Throws<ArgumentException>(() => conn.Restore(Scratch, TinyModelFixture.Tokens(ctx, 600, seed: 1)));
                Assert.Throws<ArgumentOutOfRangeException>(() => conn.RestoreGroupChunks = 0);
                Assert.Throws<ArgumentOutOfRangeException>(() => conn.RestoreGroupBytes = 0);
            }
        }
    }

    private static ModelParams Unified(ModelParams p, uint sequences)
    {
        p.SeqMax = sequences;
        p.KVUnified = true;
        return p;
    }
}
