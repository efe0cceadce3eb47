using System.Text.Json;
using TierKv.Engine.Model;

namespace TierKv.Engine.Loading;

/// <summary>Reads a Hugging Face <c>config.json</c> of a Llama-family model (llama, mistral, qwen2) into a <see cref="ModelConfig"/>.</summary>
public static class HuggingFaceConfig
{
    /// <summary>Parses <paramref name="path"/>; <paramref name="name"/> becomes the model identity.</summary>
    public static ModelConfig Read(string path, string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var r = doc.RootElement;
        string type = Str(r, "model_type") ?? "llama";
        if (type is not ("llama" or "mistral" or "qwen2"))
        {
            throw new InvalidDataException($"{path}: model_type '{type}' is not supported; the engine runs llama, mistral and qwen2 architectures.");
        }

        int hidden = Int(r, "hidden_size", path);
        int heads = Int(r, "num_attention_heads", path);
        var config = new ModelConfig
        {
            Name = name,
            VocabSize = Int(r, "vocab_size", path),
            Hidden = hidden,
            Layers = Int(r, "num_hidden_layers", path),
            Heads = heads,
            KvHeads = r.TryGetProperty("num_key_value_heads", out var kv) && kv.ValueKind == JsonValueKind.Number ? kv.GetInt32() : heads,
            HeadDim = r.TryGetProperty("head_dim", out var hd) && hd.ValueKind == JsonValueKind.Number ? hd.GetInt32() : hidden / heads,
            Intermediate = Int(r, "intermediate_size", path),
            RmsEps = r.TryGetProperty("rms_norm_eps", out var eps) ? eps.GetSingle() : 1e-5f,
            RopeTheta = r.TryGetProperty("rope_theta", out var th) ? th.GetSingle() : 10000f,
            TieEmbeddings = r.TryGetProperty("tie_word_embeddings", out var tie) && tie.ValueKind == JsonValueKind.True,
            QkvBias = type == "qwen2" || (r.TryGetProperty("attention_bias", out var ab) && ab.ValueKind == JsonValueKind.True),
            MaxPositions = System.Math.Min(r.TryGetProperty("max_position_embeddings", out var mp) ? mp.GetInt32() : 8192, 32768),
        };
        config.Validate();
        return config;
    }

    private static string? Str(JsonElement r, string key) => r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int Int(JsonElement r, string key, string path) =>
        r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : throw new InvalidDataException($"{path}: missing integer '{key}'.");
}
