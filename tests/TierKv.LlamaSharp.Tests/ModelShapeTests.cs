using TierKv.Engine.Loading;
using TierKv.LlamaSharp.Model;

namespace TierKv.LlamaSharp.Tests;

/// <summary>The generated models' shapes: names, specs, the head dimension llama.cpp reads, and the demo's model file.</summary>
public sealed class ModelShapeTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Small_carries_16_KiB_of_f16_kv_a_token_and_narrow_the_2_KiB_of_the_old_demo_model()
    {
        Assert.Equal(16 * 1024, KvBytesPerToken(LlamaModelShape.Small));
        Assert.Equal(2 * 1024, KvBytesPerToken(LlamaModelShape.Narrow));
        Assert.Same(LlamaModelShape.Narrow, LlamaModelShape.Named(" Narrow "));
        Assert.Same(LlamaModelShape.Small, LlamaModelShape.Named("small"));
    }

    [Fact]
    public void A_spec_overrides_the_fields_it_names_and_keeps_smalls_other_fields()
    {
        var c = LlamaModelShape.Named("layers=8,kv_heads=2,heads=4");
        Assert.Equal((256, 8, 4, 2, 128, 1024), (c.Hidden, c.Layers, c.Heads, c.KvHeads, c.HeadDim, c.Intermediate));
        Assert.Equal("tierkv-llama/h256-l8-q4-kv2-d128-f1024", c.Name);
        Assert.Equal(c, LlamaModelShape.Named("heads=4, kv_heads=2, layers=8"));
        Assert.True(LlamaModelShape.IsShape("layers=8"));
        Assert.True(LlamaModelShape.IsShape("narrow"));
        Assert.False(LlamaModelShape.IsShape("model.gguf"));
    }

    [Theory]
    [InlineData("layers=0", "layers=0")]
    [InlineData("depth=4", "unknown field 'depth'")]
    [InlineData("layers=four", "layers=four")]
    [InlineData("heads=3", "KvHeads")]
    [InlineData("huge", "Unknown model shape 'huge'")]
    public void A_bad_shape_is_an_error_that_names_what_is_wrong(string spec, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => LlamaModelShape.Named(spec));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_head_dimension_other_than_hidden_over_heads_is_written_for_llama_cpp_and_read_back()
    {
        var small = LlamaModelShape.Small;
        Assert.NotEqual(small.Hidden, small.Heads * small.HeadDim);
        var file = LlamaModelFile.Open(fixture.SmallModelPath, null);
        Assert.Equal(small.HeadDim, file.Config.HeadDim);
        Assert.Equal(small.KvHeads, file.Config.KvHeads);

        // The tiny shape has head dim = hidden / heads: its file carries no key_length, so its bytes (and the
        // fingerprint test vector in docs/hashing.md) are those of before.
        Assert.Equal(LlamaModelShape.Tiny.Hidden, LlamaModelShape.Tiny.Heads * LlamaModelShape.Tiny.HeadDim);
        var tinyMeta = new GgufFile(fixture.ModelPath).Metadata;
        Assert.False(tinyMeta.ContainsKey("llama.attention.key_length"));
        Assert.Equal((uint)small.HeadDim, new GgufFile(fixture.SmallModelPath).Metadata["llama.attention.key_length"]);
    }

    [Fact]
    public void Ensure_writes_the_named_model_once_and_replaces_a_file_of_another_shape_under_its_name()
    {
        string data = Path.Combine(fixture.Directory, "ensure-" + Guid.NewGuid().ToString("N"));
        const string spec = "hidden=64,layers=1,heads=2,kv_heads=1,head_dim=32,ffn=64";
        var messages = new List<string>();
        string path = LlamaModelMaker.Ensure(data, spec, messages.Add);
        Assert.Single(messages);
        Assert.Equal(path, LlamaModelMaker.Ensure(data, spec, messages.Add));
        Assert.Single(messages);

        // A file of another shape where this shape's file belongs (a model written before a shape changed).
        LlamaModelMaker.Write(path, LlamaModelShape.Tiny);
        Assert.Equal(path, LlamaModelMaker.Ensure(data, spec, messages.Add));
        Assert.Equal(2, messages.Count);
        Assert.Equal(1, LlamaModelFile.Open(path, null).Config.Layers);
    }

    private static int KvBytesPerToken(TierKv.Engine.Model.ModelConfig c) => c.Layers * 2 * c.KvDim * 2;
}
