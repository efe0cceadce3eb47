using System.Globalization;
using TierKv.Engine.Model;

namespace TierKv.LlamaSharp.Model;

/// <summary>
/// Shapes of the synthetic Llama models that <c>tierkv make-model</c> writes, by name: <c>tiny</c> runs the integration
/// tests in seconds; <c>small</c> is the demo model; <c>narrow</c> is the demo model before it was widened; or a spec
/// such as <c>layers=8,heads=4,kv_heads=4</c> (fields not named are <c>small</c>'s).
/// </summary>
/// <remarks>
/// <c>small</c> carries 16 KiB of f16 KV a token (4 layers × K and V × 8 KV heads × 128 × 2 bytes), the low end of real
/// models' (Qwen2.5-0.5B 12 KiB, Llama-3.2-1B 32 KiB, Qwen2.5-7B 56 KiB, Llama-3-8B 128 KiB), at the compute of a
/// 8M-parameter model: its hidden size (256) is below heads × head dim (1,024), which llama.cpp's Llama architecture takes from
/// <c>llama.attention.key_length</c>. The KV width is what a restore's speed against a memcpy depends on: llama.cpp's
/// <c>llama_state_seq_set_data</c> does per-cell bookkeeping whatever the width, which at <c>narrow</c>'s 2 KiB a token
/// costs more than the bytes (docs/llamacpp.md, "What a restore costs, and the floor").
/// </remarks>
public static class LlamaModelShape
{
    /// <summary>Merges learnt for the built-in vocabulary.</summary>
    public const int Merges = 320;

    /// <summary>Byte tokens + merges + begin and end of sequence.</summary>
    public const int VocabSize = 256 + Merges + 2;

    private const string Prefix = "tierkv-llama";

    private static readonly ModelSize SmallSize = new(Hidden: 256, Layers: 4, Heads: 8, KvHeads: 8, HeadDim: 128, Intermediate: 1024);

    /// <summary>The shapes, with the built-in vocabulary and untied embeddings.</summary>
    public static ModelShapeFamily Family { get; } = new(
        Prefix,
        VocabSize,
        tieEmbeddings: false,
        tiny: new(Hidden: 64, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 16, Intermediate: 128),
        small: SmallSize,
        kind: "model shape",
        otherwise: ", narrow, or a spec such as layers=8,heads=4,kv_heads=4");

    /// <summary>Two layers, hidden 64: tests.</summary>
    public static ModelConfig Tiny => Family.Tiny;

    /// <summary>The demo model: 16 KiB of f16 KV a token.</summary>
    public static ModelConfig Small => Family.Small;

    /// <summary>The demo model before it was widened: 4 layers, 2 KV heads of 64, 2 KiB of f16 KV a token.</summary>
    public static ModelConfig Narrow { get; } =
        new ModelSize(Hidden: 256, Layers: 4, Heads: 4, KvHeads: 2, HeadDim: 64, Intermediate: 1024).Config($"{Prefix}/narrow", VocabSize, false);

    /// <summary>Whether <paramref name="name"/> names a shape (<see cref="Named"/>) rather than a model file.</summary>
    public static bool IsShape(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string n = name.Trim().ToLowerInvariant();
        return n is "tiny" or "small" or "narrow" || (n.Contains('=', StringComparison.Ordinal) && !File.Exists(name));
    }

    /// <summary>
    /// The shape called <paramref name="name"/>: <c>tiny</c>, <c>small</c>, <c>narrow</c>, or a comma-separated spec of
    /// <c>hidden</c>, <c>layers</c>, <c>heads</c>, <c>kv_heads</c>, <c>head_dim</c>, <c>ffn</c> (the rest <c>small</c>'s).
    /// </summary>
    public static ModelConfig Named(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string n = name.Trim().ToLowerInvariant();
        if (n == "narrow")
        {
            return Narrow;
        }

        return n.Contains('=', StringComparison.Ordinal) ? Parse(n) : Family.Named(n);
    }

    private static ModelConfig Parse(string spec)
    {
        var size = SmallSize;
        foreach (string part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? part : part[..eq];
            if (eq < 0 || !int.TryParse(part.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v <= 0)
            {
                throw new ArgumentException($"Model shape '{spec}': '{part}' is not field=positive integer.", nameof(spec));
            }

            size = key switch
            {
                "hidden" => size with { Hidden = v },
                "layers" => size with { Layers = v },
                "heads" => size with { Heads = v },
                "kv_heads" => size with { KvHeads = v },
                "head_dim" => size with { HeadDim = v },
                "ffn" => size with { Intermediate = v },
                _ => throw new ArgumentException($"Model shape '{spec}': unknown field '{key}' (use hidden, layers, heads, kv_heads, head_dim, ffn).", nameof(spec)),
            };
        }

        string canonical = $"h{size.Hidden}-l{size.Layers}-q{size.Heads}-kv{size.KvHeads}-d{size.HeadDim}-f{size.Intermediate}";
        var config = size.Config($"{Prefix}/{canonical}", VocabSize, false);
        config.Validate();
        return config;
    }
}
