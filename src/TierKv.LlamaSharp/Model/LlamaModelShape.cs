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

    /// <summary>Two layers, hidden 64: tests.</summary>
    public static ModelConfig Tiny { get; } = new()
    {
        Name = "tierkv-llama/tiny",
        VocabSize = VocabSize,
        Hidden = 64,
        Layers = 2,
        Heads = 4,
        KvHeads = 2,
        HeadDim = 16,
        Intermediate = 128,
        MaxPositions = 32768,
        TieEmbeddings = false,
    };

    /// <summary>The demo model.</summary>
    public static ModelConfig Small { get; } = new()
    {
        Name = "tierkv-llama/small",
        VocabSize = VocabSize,
        Hidden = 256,
        Layers = 4,
        Heads = 4,
        KvHeads = 2,
        HeadDim = 64,
        Intermediate = 1024,
        MaxPositions = 32768,
        TieEmbeddings = false,
    };

    /// <summary>The shape called <paramref name="name"/>.</summary>
    public static ModelConfig Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "small" => Small,
        _ => throw new ArgumentException($"Unknown model shape '{name}': use tiny or small.", nameof(name)),
    };
}
