using System.Buffers.Binary;
using TierKv.Engine.Cache;
using TierKv.Engine.Loading;
using TierKv.Engine.Model;

namespace TierKv.Engine.Tests;

public sealed class LoaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tierkv-loader-tests-" + Guid.NewGuid().ToString("N"));

    public LoaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly float[] Values = [1.5f, -2f, 0.25f, 3f, -0.125f, 65504f];

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Safetensors_reads_each_dtype_back_exactly(string dtype)
    {
        string path = Path.Combine(_dir, dtype + ".safetensors");
        float[] values = dtype == "BF16" ? [1.5f, -2f, 0.25f, 3f, -0.125f, 65536f] : Values;
        ModelFileWriters.WriteSafetensors(path, [("a", dtype, [2, 3], ModelFileWriters.Encode(values, dtype)), ("b", "F32", [1], ModelFileWriters.Encode([7f], "F32"))]);
        var file = new SafetensorsFile([path]);
        Assert.Equal(values, file.ReadF32("a", 6));
        Assert.Equal([7f], file.ReadF32("b", 1));
        Assert.Equal([2L, 3L], file.Shape("a"));
    }

    [Fact]
    public void Safetensors_names_a_missing_tensor_and_a_wrong_size()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        ModelFileWriters.WriteSafetensors(path, [("a", "F32", [2], ModelFileWriters.Encode([1f, 2f], "F32"))]);
        var file = new SafetensorsFile([path]);
        Assert.Contains("'zzz'", Assert.Throws<InvalidDataException>(() => file.ReadF32("zzz", 2)).Message);
        Assert.Contains("'a'", Assert.Throws<InvalidDataException>(() => file.ReadF32("a", 3)).Message);
    }

    [Fact]
    public void Gguf_reads_f32_f16_bf16_and_q8_0()
    {
        string path = Path.Combine(_dir, "t.gguf");
        var q8 = new byte[34];
        BinaryPrimitives.WriteUInt16LittleEndian(q8, BitConverter.HalfToUInt16Bits((Half)0.5f));
        for (int i = 0; i < 32; i++)
        {
            q8[2 + i] = (byte)(sbyte)(i - 3);
        }

        ModelFileWriters.WriteGguf(path, [("general.architecture", "qwen2")], [
            new("f32", [6], GgufFile.TypeF32, ModelFileWriters.Encode(Values, "F32")),
            new("f16", [3, 2], GgufFile.TypeF16, ModelFileWriters.Encode(Values, "F16")),
            new("bf16", [2], GgufFile.TypeBF16, ModelFileWriters.Encode([1.5f, -2f], "BF16")),
            new("q8", [32], GgufFile.TypeQ8_0, q8),
        ]);
        var g = new GgufFile(path);
        Assert.Equal("qwen2", g.Architecture);
        Assert.Equal(Values, g.ReadF32("f32", 6));
        Assert.Equal(Values, g.ReadF32("f16", 6));
        Assert.Equal([1.5f, -2f], g.ReadF32("bf16", 2));
        Assert.Equal(Enumerable.Range(0, 32).Select(i => 0.5f * (i - 3)), g.ReadF32("q8", 32));
    }

    [Fact]
    public void Rotary_permutation_round_trips()
    {
        var w = Enumerable.Range(0, 2 * 8 * 3).Select(i => (float)i).ToArray();
        Assert.Equal(w, GgufFile.UnpermuteRotary(GgufFile.PermuteRotary(w, 2, 3), 2, 3));
        Assert.NotEqual(w, GgufFile.PermuteRotary(w, 2, 3));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_safetensors_model_gives_the_same_logits_as_the_weights_it_was_written_from(bool qwen)
    {
        var config = TestModels.Micro(bias: qwen, tied: !qwen);
        string dir = Path.Combine(_dir, "hf");
        ModelFileWriters.WriteHuggingFaceModel(dir, config, 9);
        using var loaded = new Transformer(ModelFiles.Load(dir));
        Assert.Equal(qwen, loaded.Config.QkvBias);
        using var original = TestModels.Build(config, 9);
        Assert.Equal(Logits(original), Logits(loaded));
    }

    [Fact]
    public void A_gguf_model_gives_the_same_logits_as_the_weights_it_was_written_from()
    {
        var config = TestModels.Micro();
        string path = Path.Combine(_dir, "micro.gguf");
        ModelFileWriters.WriteGgufModel(path, config, 10);
        using var loaded = new Transformer(ModelFiles.Load(path));
        Assert.Equal("micro-gguf", loaded.Config.Name);
        Assert.Equal(config.KvHeads, loaded.Config.KvHeads);
        using var original = TestModels.Build(config, 10);
        Assert.Equal(Logits(original), Logits(loaded));
    }

    private static float[] Logits(Transformer model)
    {
        var tokens = TestModels.Tokens(40, 3);
        using var pool = model.CreatePagePool(64);
        using var seq = new KvSequence(pool);
        var logits = new float[model.Config.VocabSize];
        model.Forward(seq, tokens, logits);
        return logits;
    }
}
