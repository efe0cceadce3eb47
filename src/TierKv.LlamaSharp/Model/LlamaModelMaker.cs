using TierKv.Engine.Loading;
using TierKv.Engine.Model;

namespace TierKv.LlamaSharp.Model;

/// <summary>
/// Writes a Llama-architecture GGUF that llama.cpp loads and runs: deterministic random weights
/// (<see cref="SyntheticWeights"/>) in F16 or F32, and a byte-level BPE vocabulary (<c>tokenizer.ggml.model = gpt2</c>)
/// learnt from <see cref="Corpus"/>, so llama.cpp's own tokenizer encodes any text. The text it generates is
/// meaningless; its cost and its numerics are those of a real model of that shape.
/// </summary>
public static class LlamaModelMaker
{
    /// <summary>English text the merges are learnt from (the demo's chat text uses the same words).</summary>
    public const string Corpus =
        "the cache model request token prefix layer memory server user history prompt answer question document section " +
        "policy system latency throughput tier chunk disk network value key attention compute reuse turn agent tool " +
        "result summary report please explain why how when which should could would must never always first then after " +
        "before because while every each some many few large small fast slow new old good better best simple careful " +
        "exact same different other this that these those with without from into over under between across through and " +
        "or but not is are was were be been has have had do does did can will make keep move load store read write evict " +
        "measure plan serve build the the the and and of of to to in in a a it it you you we we they they";

    /// <summary>The words of <see cref="Corpus"/>, for generating chat text.</summary>
    public static IReadOnlyList<string> Words { get; } = Corpus.Split(' ').Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>Writes the model of <paramref name="shape"/> to <paramref name="path"/>; <paramref name="f16"/> stores matrices as F16 (else F32).</summary>
    public static void Write(string path, ModelConfig shape, bool f16 = true, ulong seed = 0x7157_4B56)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var bpe = ByteLevelBpe.Train(Corpus, shape.VocabSize - 258);
        var tokens = new List<string>(bpe.Tokens) { "<|begin_of_text|>", "<|end_of_text|>" };
        if (tokens.Count != shape.VocabSize)
        {
            throw new ArgumentException($"The corpus yields {tokens.Count} tokens but the shape has a vocabulary of {shape.VocabSize}.", nameof(shape));
        }

        var types = new int[tokens.Count];
        Array.Fill(types, 1); // normal
        types[^2] = types[^1] = 3; // control
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        var metadata = new List<(string Key, object Value)>
        {
            ("tokenizer.ggml.model", "gpt2"),
            ("tokenizer.ggml.pre", "gpt-2"),
            ("tokenizer.ggml.tokens", tokens.ToArray()),
            ("tokenizer.ggml.token_type", types),
            ("tokenizer.ggml.merges", bpe.Merges.ToArray()),
            ("tokenizer.ggml.bos_token_id", (uint)(tokens.Count - 2)),
            ("tokenizer.ggml.eos_token_id", (uint)(tokens.Count - 1)),
            ("tokenizer.ggml.add_bos_token", false),
        };
        if (shape.HeadDim * shape.Heads != shape.Hidden)
        {
            // llama.cpp takes the head dimension as hidden / heads unless these say otherwise (llama-model.cpp, load_hparams).
            metadata.Add(("llama.attention.key_length", (uint)shape.HeadDim));
            metadata.Add(("llama.attention.value_length", (uint)shape.HeadDim));
        }

        GgufWriter.WriteModel(path, shape, new SyntheticWeights(shape, seed), f16 ? GgufFile.TypeF16 : GgufFile.TypeF32, metadata);
    }

    /// <summary>
    /// The generated model of the shape <paramref name="name"/> (<see cref="LlamaModelShape.Named"/>) in
    /// <paramref name="dataDirectory"/>/models, written there (reported to <paramref name="progress"/>) when it is missing
    /// or a file of another shape lies under its name (e.g. one written before the shape changed).
    /// </summary>
    public static string Ensure(string dataDirectory, string name, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        var shape = LlamaModelShape.Named(name);
        string path = Path.Combine(dataDirectory, "models", $"tierkv-llama-{shape.Name[(shape.Name.IndexOf('/', StringComparison.Ordinal) + 1)..]}.gguf");
        if (File.Exists(path) && HasShape(path, shape))
        {
            return path;
        }

        progress?.Invoke($"writing the synthetic '{name}' model to {path} (tierkv make-model) ...");
        Write(path, shape);
        return path;
    }

    private static bool HasShape(string path, ModelConfig shape)
    {
        try
        {
            var c = new GgufFile(path).ReadConfig(shape.Name);
            return (c.Hidden, c.Layers, c.Heads, c.KvHeads, c.HeadDim, c.Intermediate, c.VocabSize) ==
                (shape.Hidden, shape.Layers, shape.Heads, shape.KvHeads, shape.HeadDim, shape.Intermediate, shape.VocabSize);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            return false;
        }
    }
}
