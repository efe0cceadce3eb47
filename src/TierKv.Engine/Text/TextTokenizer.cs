using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace TierKv.Engine.Text;

/// <summary>
/// Text in and out through Microsoft.ML.Tokenizers: the cl100k_base tiktoken vocabulary (from its data package) for
/// synthetic models, or a model's own tokenizer file: <c>tokenizer.model</c> (SentencePiece), <c>*.tiktoken</c>,
/// <c>vocab.json</c> + <c>merges.txt</c>, or the vocabulary and merges of a Hugging Face <c>tokenizer.json</c>
/// (byte-level BPE).
/// </summary>
public sealed class TextTokenizer
{
    private TextTokenizer(Tokenizer tokenizer, string description)
    {
        Inner = tokenizer;
        Description = description;
    }

    /// <summary>The wrapped tokenizer.</summary>
    public Tokenizer Inner { get; }

    /// <summary>Where the vocabulary came from.</summary>
    public string Description { get; }

    /// <summary>The cl100k_base vocabulary (100,277 ids) used by the synthetic models.</summary>
    public static TextTokenizer Cl100k() => new(TiktokenTokenizer.CreateForEncoding("cl100k_base"), "cl100k_base (tiktoken)");

    /// <summary>Finds a tokenizer next to a model file or in a model folder; null when none is there.</summary>
    public static TextTokenizer? FromModelPath(string modelPath)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        string dir = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string sp = Path.Combine(dir, "tokenizer.model");
        if (File.Exists(sp))
        {
            using var s = File.OpenRead(sp);
            return new TextTokenizer(LlamaTokenizer.Create(s), sp);
        }

        var tiktoken = Directory.GetFiles(dir, "*.tiktoken");
        if (tiktoken.Length > 0)
        {
            return new TextTokenizer(TiktokenTokenizer.Create(tiktoken[0], TiktokenTokenizer.CreateForEncoding("cl100k_base").PreTokenizer, null), tiktoken[0]);
        }

        string vocab = Path.Combine(dir, "vocab.json"), merges = Path.Combine(dir, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges))
        {
            using var v = File.OpenRead(vocab);
            using var m = File.OpenRead(merges);
            return new TextTokenizer(CodeGenTokenizer.Create(v, m, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false), vocab);
        }

        string json = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(json))
        {
            return FromHuggingFaceJson(json);
        }

        return null;
    }

    /// <summary>Builds a byte-level BPE tokenizer from the <c>model.vocab</c> and <c>model.merges</c> of a tokenizer.json.</summary>
    public static TextTokenizer FromHuggingFaceJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        if (!doc.RootElement.TryGetProperty("model", out var model) || !model.TryGetProperty("vocab", out var vocab) || !model.TryGetProperty("merges", out var merges))
        {
            throw new InvalidDataException($"{path} has no model.vocab and model.merges: only BPE tokenizer.json files are supported.");
        }

        var mergeText = new StringBuilder("#version: 0.2\n");
        foreach (var m in merges.EnumerateArray())
        {
            mergeText.Append(m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()).Append('\n');
        }

        using var v = new MemoryStream(Encoding.UTF8.GetBytes(vocab.GetRawText()));
        using var ms = new MemoryStream(Encoding.UTF8.GetBytes(mergeText.ToString()));
        return new TextTokenizer(CodeGenTokenizer.Create(v, ms, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false), path);
    }

    /// <summary>Token ids of <paramref name="text"/>.</summary>
    public int[] Encode(string text) => [.. Inner.EncodeToIds(text)];

    /// <summary>Text of <paramref name="ids"/>.</summary>
    public string Decode(IEnumerable<int> ids) => Inner.Decode(ids) ?? "";
}
