using LLama;
using LLama.Native;
using TierKv.Chunks;
using TierKv.Engine.Planning;
using TierKv.Keys;
using TierKv.LlamaSharp.Model;
using TierKv.LlamaSharp.Session;
using TierKv.Nvme;
using TierKv.Store;

namespace TierKv.LlamaSharp.Tests;

/// <summary>
/// Real llama.cpp (LLamaSharp's CPU backend) on the tiny generated model: logits after a restore from TierKV must equal,
/// bit for bit, the logits llama.cpp computes when it kept the same prefix in its own KV cache and decodes the same
/// suffix the same way.
/// </summary>
public sealed partial class CachedSequenceTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>, IDisposable
{
    private static readonly LLamaSeqId Seq = (LLamaSeqId)0;
    private readonly string _data = Path.Combine(fixture.Directory, "data-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    [Fact]
    public async Task Dram_hit_gives_the_logits_of_llamas_own_cache()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        var (model, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 700);
            int[] prompt = [.. history, .. TinyModelFixture.Tokens(ctx, 60, seed: 2)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn, prompt);
            Assert.Equal(512, restore.RestoredTokens);
            Assert.Equal(512, restore.ServedTokens["dram"]);
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, restore.RestoredTokens), cached);
        }
    }

    [Fact]
    public async Task Without_flash_attention_v_is_transposed_and_still_restored_exactly()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath, flashAttention: false));
        var (_, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            Assert.True(conn.VTransposed);
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 700);
            int[] prompt = [.. history, .. TinyModelFixture.Tokens(ctx, 60, seed: 7)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn, prompt);
            Assert.Equal(512, restore.RestoredTokens);
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, restore.RestoredTokens), cached);
        }
    }

    [Fact]
    public async Task A_q8_0_kv_cache_is_carried_in_its_own_smaller_chunks_and_restored_exactly()
    {
        // q8_0 needs head dimensions in multiples of 32: the demo's shape, not the tiny one.
        var p = TinyModelFixture.Params(fixture.SmallModelPath, typeK: GGMLType.GGML_TYPE_Q8_0, typeV: GGMLType.GGML_TYPE_Q8_0);
        using var weights = LLamaWeights.LoadFromFile(p);
        using var ctx = weights.CreateContext(p);
        var model = LlamaModelFile.Open(fixture.SmallModelPath, _data);
        var f16 = LlamaKvConnector.LayoutOf(model, KvElementType.Float16);
        var q8 = LlamaKvConnector.LayoutOf(model, GGMLType.GGML_TYPE_Q8_0);
        Assert.Equal(f16.KvBytesPerChunk / 64 * 34, q8.KvBytesPerChunk);
        Assert.NotEqual(f16.Fingerprint, q8.Fingerprint);
        Assert.Throws<NotSupportedException>(() => LlamaKvConnector.LayoutOf(LlamaModelFile.Open(fixture.ModelPath, _data), GGMLType.GGML_TYPE_Q8_0));

        var (_, store, conn) = Open(ctx, model, q8, ssd: true);
        using (store)
        {
            Assert.Equal(q8, conn.Layout);
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 700);
            int[] prompt = [.. history, .. TinyModelFixture.Tokens(ctx, 60, seed: 2)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn, prompt);
            Assert.Equal(512, restore.RestoredTokens);
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, restore.RestoredTokens), cached);
        }
    }

    [Fact]
    public void K_and_v_of_different_types_turn_the_cache_off_with_a_reason()
    {
        var p = TinyModelFixture.Params(fixture.SmallModelPath, typeK: GGMLType.GGML_TYPE_Q8_0);
        using var weights = LLamaWeights.LoadFromFile(p);
        using var ctx = weights.CreateContext(p);
        var model = LlamaModelFile.Open(fixture.SmallModelPath, _data);
        var (_, store, conn) = Open(ctx, model, LlamaKvConnector.LayoutOf(model, KvElementType.Float16), ssd: false, enabled: false);
        using (store)
        {
            Assert.Null(conn.Codec);
            Assert.Contains("type", conn.Disabled, StringComparison.Ordinal);
            Assert.Equal(0, conn.Restore(Seq, TinyModelFixture.Tokens(ctx, 600, seed: 1)).RestoredTokens);
        }
    }

    [Fact]
    public async Task Ssd_hit_gives_the_logits_of_llamas_own_cache()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        var (model, store, conn) = Open(ctx, ssd: true, dramChunks: 2);
        using (store)
        {
            await TierCalibration.MeasureAsync(store.Tiers[1], conn.Layout!, conn.Planner);
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 1100);
            await store.PersistAsync();
            int[] prompt = [.. history, .. TinyModelFixture.Tokens(ctx, 40, seed: 3)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn, prompt);
            Assert.Equal(1024, restore.RestoredTokens);
            Assert.True(restore.ServedTokens.GetValueOrDefault("ssd") > 0, "some chunks came from the SSD tier");
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, restore.RestoredTokens), cached);
        }
    }

    [Fact]
    public async Task Partial_hit_restores_the_shared_chunks_and_recomputes_the_rest()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        var (model, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, 800);
            int[] prompt = [.. history.AsSpan(0, 300), .. TinyModelFixture.Tokens(ctx, 500, seed: 4)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn, prompt);
            Assert.Equal(256, restore.RestoredTokens);
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, restore.RestoredTokens), cached);
        }
    }

    [Fact]
    public async Task A_second_store_on_the_same_folder_hits_from_the_ssd_tier_after_a_restart()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        int[] history = await PersistedFirstTurnAsync(ctx, 600);

        var (_, store2, conn2) = Open(ctx, ssd: true);
        using (store2)
        {
            await TierCalibration.MeasureAsync(store2.Tiers[1], conn2.Layout!, conn2.Planner);
            int[] prompt = [.. history, .. TinyModelFixture.Tokens(ctx, 30, seed: 5)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn2, prompt);
            Assert.Equal(512, restore.RestoredTokens);
            Assert.Equal(512, restore.ServedTokens["ssd"]);
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, restore.RestoredTokens), cached);
        }
    }

    [Fact]
    public async Task A_damaged_chunk_is_a_miss_and_the_prompt_is_recomputed()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        int[] history = await PersistedFirstTurnAsync(ctx, 600);

        var (_, store2, conn2) = Open(ctx, ssd: true);
        using (store2)
        {
            var layout = conn2.Layout!;
            var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, history);
            var ssd = (NvmeTier)store2.Tiers[1];
            Assert.True(ssd.TryLocate(keys[0], out string path, out long offset));
            FlipByte(path, offset + ChunkHeader.Size + 100);
            await TierCalibration.MeasureAsync(store2.Tiers[1], layout, conn2.Planner);
            int[] prompt = [.. history, .. TinyModelFixture.Tokens(ctx, 30, seed: 6)];
            var (restore, cached) = LlamaTurns.Cached(ctx, conn2, prompt);
            Assert.Equal(0, restore.RestoredTokens);
            Assert.Equal(1, conn2.FailedRestores);
            Assert.Equal(LlamaTurns.Reference(ctx, prompt, 0), cached);
        }
    }

    [Fact]
    public async Task A_chunk_stored_for_another_model_is_never_matched()
    {
        int[] history;
        using (var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath)))
        {
            history = await PersistedFirstTurnAsync(ctx, 600);
        }

        using var other = LLamaWeights.LoadFromFile(TinyModelFixture.Params(fixture.OtherModelPath));
        using var ctx2 = other.CreateContext(TinyModelFixture.Params(fixture.OtherModelPath));
        var model2 = LlamaModelFile.Open(fixture.OtherModelPath, _data);
        var layout2 = LlamaKvConnector.LayoutOf(model2, KvElementType.Float16);
        using var store2 = TierStackBuilder.ForLayout(_data, layout2, 8L << 20, 64L << 20);
        var conn2 = new LlamaKvConnector(ctx2.NativeHandle, model2, store2, Seq, log: _ => { });
        var restore = conn2.Restore(Seq, [.. history, 1, 2, 3]);
        Assert.Equal(0, restore.HitTokens);
        Assert.NotEqual(conn2.Layout!.Fingerprint, LlamaKvConnector.LayoutOf(LlamaModelFile.Open(fixture.ModelPath, _data), KvElementType.Float16).Fingerprint);
    }

    [Fact]
    public async Task Chunks_of_one_sequence_restored_into_another_read_back_byte_for_byte()
    {
        var p = TinyModelFixture.Params(fixture.ModelPath);
        p.SeqMax = 2;
        p.KVUnified = true;
        using var ctx = fixture.Weights.CreateContext(p);
        var (_, store, conn) = Open(ctx, ssd: false);
        using (store)
        {
            var s0 = (LLamaSeqId)0;
            var s1 = (LLamaSeqId)1;
            var dec = new LlamaDecoder(ctx.NativeHandle, 512);
            var logits = new float[ctx.Vocab.Count];
            var a = TinyModelFixture.Tokens(ctx, 300, seed: 11);
            var b = TinyModelFixture.Tokens(ctx, 700, seed: 12);
            dec.Decode(s0, a, 0, logits);
            dec.Decode(s1, b, 0, logits);
            Assert.Equal(1, await conn.SaveAsync(s0, a));
            Assert.Equal(2, await conn.SaveAsync(s1, b));
            var before = Chunks(ctx, conn, s1, 2);

            // Sequence 0 takes sequence 1's prefix from TierKV; llama.cpp's state of it holds exactly those chunks.
            var restore = conn.Restore(s0, [.. b, 1]);
            Assert.Equal(512, restore.RestoredTokens);
            Assert.Equal(before, Chunks(ctx, conn, s0, 2));
        }
    }

    [Fact]
    public void A_store_built_for_smaller_chunks_turns_the_cache_off_with_a_reason()
    {
        using var ctx = fixture.Weights.CreateContext(TinyModelFixture.Params(fixture.ModelPath));
        var model = LlamaModelFile.Open(fixture.ModelPath, _data);
        int chunk = LlamaKvConnector.LayoutOf(model, KvElementType.Float16).ChunkBytes;
        using var store = TierStackBuilder.Build(new TierStackOptions { DramCapacityBytes = 8L * chunk, ChunkBytes = chunk / 2 });
        var logged = new List<string>();
        using var conn = new LlamaKvConnector(ctx.NativeHandle, model, store, Seq, log: logged.Add);
        Assert.Null(conn.Codec);
        Assert.Contains("LayoutOf", conn.Disabled, StringComparison.Ordinal);
        Assert.Single(logged);
        Assert.Equal(0, conn.Restore(Seq, TinyModelFixture.Tokens(ctx, 600, seed: 1)).RestoredTokens);
    }

    private static byte[] Chunks(LLamaContext ctx, LlamaKvConnector conn, LLamaSeqId seq, int count)
    {
        var h = ctx.NativeHandle;
        var blob = new byte[(int)h.GetStateSize(seq)];
        unsafe
        {
            fixed (byte* p = blob)
            {
                Assert.Equal((nuint)blob.Length, h.GetState(p, (nuint)blob.Length, seq));
            }
        }

        Assert.True(conn.Codec!.TryParse(blob, out var state, out string reason), reason);
        var chunks = new byte[count * conn.Layout!.ChunkBytes];
        conn.Codec.Cut(blob, state!, 0, count, chunks);
        return chunks;
    }

    private (LlamaModelFile Model, TieredStore Store, LlamaKvConnector Connector) Open(LLamaContext ctx, bool ssd, int dramChunks = 64)
    {
        var model = LlamaModelFile.Open(fixture.ModelPath, _data);
        return Open(ctx, model, LlamaKvConnector.LayoutOf(model, KvElementType.Float16), ssd, dramChunks);
    }

    private (LlamaModelFile Model, TieredStore Store, LlamaKvConnector Connector) Open(LLamaContext ctx, LlamaModelFile model, KvLayout layout, bool ssd, int dramChunks = 64, bool enabled = true)
    {
        var store = TierStackBuilder.Build(new TierStackOptions
        {
            DataDirectory = _data,
            DramCapacityBytes = (long)dramChunks * layout.ChunkBytes,
            SsdCapacityBytes = ssd ? 64L << 20 : 0,
            ChunkBytes = layout.ChunkBytes,
            Log = _ => { },
        });
        var conn = new LlamaKvConnector(ctx.NativeHandle, model, store, Seq, log: _ => { });
        if (enabled)
        {
            Assert.Null(conn.Disabled);
        }

        // The tiny model recomputes faster than anything loads; pin a slow prefill so the planner loads every hit and
        // the tests exercise the data path.
        conn.Planner.ObservePrefill(1000, 0, 1000);
        conn.Planner.LearnPrefillSpeed = false;
        return (model, store, conn);
    }

    /// <summary>A first turn stored through a store with an SSD tier, persisted and closed (what a restart finds).</summary>
    private async Task<int[]> PersistedFirstTurnAsync(LLamaContext ctx, int promptTokens)
    {
        var (_, store, conn) = Open(ctx, ssd: true);
        using (store)
        {
            var history = await LlamaTurns.FirstTurnAsync(ctx, conn, promptTokens);
            await store.PersistAsync();
            return history;
        }
    }

    private static void FlipByte(string path, long offset)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = offset;
        int b = fs.ReadByte();
        fs.Position = offset;
        fs.WriteByte((byte)(b ^ 0xFF));
    }
}
