using TierKv.Engine.Model;

namespace TierKv.LlamaSharp.Model;

/// <summary>
/// Shapes of the synthetic Llama models that <c>tierkv make-model</c> writes. <c>tiny</c> runs the integration tests in
/// seconds; <c>small</c> is the demo model, sized so that a 5,000-token prefill takes seconds on two
/// cores (grouped-query attention, 2 KiB of f16 KV per token).
/// </summary>
public static class LlamaModelShape
{
    /// <summary>Merges learnt for the built-in vocabulary.</summary>
    public const int Merges = 320;

    /// <summary>Byte tokens + merges + begin and end of sequence.</summary>
    public const int VocabSize = 256 + Merges + 2;

    /// <summary>The shapes, with the built-in vocabulary and untied embeddings.</summary>
    public static ModelShapeFamily Family { get; } = new(
        "tierkv-llama",
        VocabSize,
        tieEmbeddings: false,
        tiny: new(Hidden: 64, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 16, Intermediate: 128),
        small: new(Hidden: 256, Layers: 4, Heads: 4, KvHeads: 2, HeadDim: 64, Intermediate: 1024),
        kind: "model shape");

    /// <summary>Two layers, hidden 64: tests.</summary>
    public static ModelConfig Tiny => Family.Tiny;

    /// <summary>The demo model.</summary>
    public static ModelConfig Small => Family.Small;

    /// <summary>The shape called <paramref name="name"/>.</summary>
    public static ModelConfig Named(string name) => Family.Named(name);
}
