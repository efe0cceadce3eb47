namespace TierKv.Engine.Model;

/// <summary>
/// Generated model shapes that share a vocabulary and embedding tying and differ only in size: a <c>tiny</c> one for
/// tests and a <c>small</c> one for demos, looked up by name. The engine's synthetic transformers are one family, the
/// Llama GGUFs that <c>tierkv make-model</c> writes another.
/// </summary>
public sealed class ModelShapeFamily
{
    private readonly string _kind;
    private readonly string _otherwise;

    /// <summary>
    /// The family named <paramref name="prefix"/> (its shapes are <c>prefix/tiny</c> and <c>prefix/small</c>); an
    /// unknown name is an error that calls the shapes <paramref name="kind"/> and ends with <paramref name="otherwise"/>.
    /// </summary>
    public ModelShapeFamily(string prefix, int vocabSize, bool tieEmbeddings, ModelSize tiny, ModelSize small, string kind, string otherwise = "")
    {
        Tiny = tiny.Config($"{prefix}/tiny", vocabSize, tieEmbeddings);
        Small = small.Config($"{prefix}/small", vocabSize, tieEmbeddings);
        _kind = kind;
        _otherwise = otherwise;
    }

    /// <summary>The shape for tests.</summary>
    public ModelConfig Tiny { get; }

    /// <summary>The shape for demos.</summary>
    public ModelConfig Small { get; }

    /// <summary>The shape called <paramref name="name"/> (<c>tiny</c>, <c>small</c>).</summary>
    public ModelConfig Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "small" => Small,
        _ => throw new ArgumentException($"Unknown {_kind} '{name}': use tiny or small{_otherwise}.", nameof(name)),
    };
}

/// <summary>The sizes of a generated shape: what differs between the members of a <see cref="ModelShapeFamily"/>.</summary>
public readonly record struct ModelSize(int Hidden, int Layers, int Heads, int KvHeads, int HeadDim, int Intermediate)
{
    /// <summary>The config of these sizes under <paramref name="name"/>.</summary>
    public ModelConfig Config(string name, int vocabSize, bool tieEmbeddings) => new()
    {
        Name = name,
        VocabSize = vocabSize,
        Hidden = Hidden,
        Layers = Layers,
        Heads = Heads,
        KvHeads = KvHeads,
        HeadDim = HeadDim,
        Intermediate = Intermediate,
        TieEmbeddings = tieEmbeddings,
    };
}
