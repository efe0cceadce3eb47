using TierKv.Keys;

namespace TierKv.Engine.Model;

/// <summary>
/// Hyper-parameters of a decoder-only Llama-family transformer (Llama, Qwen2 with q/k/v biases, Mistral-like
/// shapes without sliding windows). Validated on construction with messages naming the bad field.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Model identity; enters the KV layout fingerprint so caches of different models never mix.</summary>
    public required string Name { get; init; }

    /// <summary>Vocabulary size (rows of the embedding).</summary>
    public required int VocabSize { get; init; }

    /// <summary>Hidden size.</summary>
    public required int Hidden { get; init; }

    /// <summary>Transformer layers.</summary>
    public required int Layers { get; init; }

    /// <summary>Query heads.</summary>
    public required int Heads { get; init; }

    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="Heads"/>).</summary>
    public required int KvHeads { get; init; }

    /// <summary>Head dimension (a multiple of 16).</summary>
    public required int HeadDim { get; init; }

    /// <summary>SwiGLU inner size.</summary>
    public required int Intermediate { get; init; }

    /// <summary>RMSNorm epsilon.</summary>
    public float RmsEps { get; init; } = 1e-5f;

    /// <summary>Rotary embedding base.</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>Whether the output projection reuses the token embedding.</summary>
    public bool TieEmbeddings { get; init; }

    /// <summary>Whether q, k and v projections have biases (Qwen2).</summary>
    public bool QkvBias { get; init; }

    /// <summary>Longest sequence the rotary tables are built for.</summary>
    public int MaxPositions { get; init; } = 32768;

    /// <summary>Query heads per KV head.</summary>
    public int GroupSize => Heads / KvHeads;

    /// <summary>Width of the query projection.</summary>
    public int QDim => Heads * HeadDim;

    /// <summary>Width of the key (and value) projection.</summary>
    public int KvDim => KvHeads * HeadDim;

    /// <summary>Parameter count (embedding counted once when tied).</summary>
    public long Parameters
    {
        get
        {
            long perLayer = ((long)Hidden * (QDim + (2 * KvDim))) + ((long)QDim * Hidden) + (3L * Hidden * Intermediate) + (2L * Hidden);
            if (QkvBias)
            {
                perLayer += QDim + (2 * KvDim);
            }

            long embed = (long)VocabSize * Hidden;
            return (perLayer * Layers) + embed + (TieEmbeddings ? 0 : embed) + Hidden;
        }
    }

    /// <summary>The KV layout TierKV stores this model's cache under: float32 K and V, 256 tokens per chunk.</summary>
    public KvLayout KvLayout(int tokensPerChunk = Keys.KvLayout.DefaultTokensPerChunk) =>
        new(Name, Layers, KvHeads, HeadDim, KvElementType.Float32, tokensPerChunk);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        Check(VocabSize > 0, nameof(VocabSize), "must be positive");
        Check(Hidden > 0 && Hidden % 16 == 0, nameof(Hidden), "must be a positive multiple of 16");
        Check(Layers > 0, nameof(Layers), "must be positive");
        Check(Heads > 0 && KvHeads > 0 && Heads % KvHeads == 0, nameof(KvHeads), $"must divide Heads ({Heads})");
        Check(HeadDim > 0 && HeadDim % 16 == 0, nameof(HeadDim), "must be a positive multiple of 16");
        Check(Intermediate > 0 && Intermediate % 16 == 0, nameof(Intermediate), "must be a positive multiple of 16");
        Check(RmsEps > 0, nameof(RmsEps), "must be positive");
        Check(RopeTheta > 1, nameof(RopeTheta), "must be greater than 1");
        Check(MaxPositions >= 16, nameof(MaxPositions), "must be at least 16");

        void Check(bool ok, string field, string what)
        {
            if (!ok)
            {
                throw new ArgumentException($"Model config '{Name}': {field} {what}.");
            }
        }
    }

    /// <summary>Vocabulary of the cl100k_base tiktoken encoding used by synthetic models.</summary>
    public const int Cl100kVocab = 100277;

    /// <summary>The synthetic shapes, with cl100k_base's vocabulary and tied embeddings.</summary>
    public static ModelShapeFamily Synthetic { get; } = new(
        "tierkv-synthetic",
        Cl100kVocab,
        tieEmbeddings: true,
        tiny: new(Hidden: 192, Layers: 4, Heads: 3, KvHeads: 1, HeadDim: 64, Intermediate: 512),
        small: new(Hidden: 768, Layers: 10, Heads: 12, KvHeads: 4, HeadDim: 64, Intermediate: 1536),
        kind: "synthetic model",
        otherwise: ", or pass a model file");

    /// <summary><c>tiny</c>: about 21M parameters (4 layers, hidden 192, 3 heads over 1 KV head).</summary>
    public static ModelConfig Tiny => Synthetic.Tiny;

    /// <summary><c>small</c>: about 128M parameters (10 layers, hidden 768, 12 heads over 4 KV heads).</summary>
    public static ModelConfig Small => Synthetic.Small;

    /// <summary>Finds a named synthetic shape (<c>tiny</c>, <c>small</c>).</summary>
    public static ModelConfig Named(string name) => Synthetic.Named(name);
}
