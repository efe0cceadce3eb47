using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TierKv.Engine.Loading;
using TierKv.Engine.Model;

namespace TierKv.Engine.Tests;

/// <summary>Writes small safetensors and GGUF files the loader tests read back.</summary>
internal static class ModelFileWriters
{
    public static IEnumerable<(string Name, long[] Shape)> HfTensors(ModelConfig c)
    {
        yield return ("model.embed_tokens.weight", [c.VocabSize, c.Hidden]);
        for (int l = 0; l < c.Layers; l++)
        {
            string p = string.Create(CultureInfo.InvariantCulture, $"model.layers.{l}.");
            yield return (p + "input_layernorm.weight", [c.Hidden]);
            yield return (p + "self_attn.q_proj.weight", [c.QDim, c.Hidden]);
            yield return (p + "self_attn.k_proj.weight", [c.KvDim, c.Hidden]);
            yield return (p + "self_attn.v_proj.weight", [c.KvDim, c.Hidden]);
            if (c.QkvBias)
            {
                yield return (p + "self_attn.q_proj.bias", [c.QDim]);
                yield return (p + "self_attn.k_proj.bias", [c.KvDim]);
                yield return (p + "self_attn.v_proj.bias", [c.KvDim]);
            }

            yield return (p + "self_attn.o_proj.weight", [c.Hidden, c.QDim]);
            yield return (p + "post_attention_layernorm.weight", [c.Hidden]);
            yield return (p + "mlp.gate_proj.weight", [c.Intermediate, c.Hidden]);
            yield return (p + "mlp.up_proj.weight", [c.Intermediate, c.Hidden]);
            yield return (p + "mlp.down_proj.weight", [c.Hidden, c.Intermediate]);
        }

        yield return ("model.norm.weight", [c.Hidden]);
        if (!c.TieEmbeddings)
        {
            yield return ("lm_head.weight", [c.VocabSize, c.Hidden]);
        }
    }

    public static byte[] Encode(float[] values, string dtype)
    {
        int size = dtype == "F32" ? 4 : 2;
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            switch (dtype)
            {
                case "F32": BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]); break;
                case "F16": BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), BitConverter.HalfToUInt16Bits((Half)values[i])); break;
                default: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16)); break;
            }
        }

        return bytes;
    }

    public static void WriteSafetensors(string path, IEnumerable<(string Name, string Dtype, long[] Shape, byte[] Data)> tensors)
    {
        var list = tensors.ToList();
        using var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            w.WriteEndObject();
            long offset = 0;
            foreach (var t in list)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.Dtype);
                w.WriteStartArray("shape");
                foreach (long d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }

                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }

            w.WriteEndObject();
        }

        var h = header.ToArray().ToList();
        while (h.Count % 8 != 0)
        {
            h.Add((byte)' ');
        }

        using var fs = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, h.Count);
        fs.Write(len);
        fs.Write(h.ToArray());
        foreach (var t in list)
        {
            fs.Write(t.Data);
        }
    }

    /// <summary>A synthetic model as a Hugging Face folder: config.json and model.safetensors (F32).</summary>
    public static void WriteHuggingFaceModel(string dir, ModelConfig c, ulong seed)
    {
        Directory.CreateDirectory(dir);
        var synth = new SyntheticWeights(c, seed);
        WriteSafetensors(Path.Combine(dir, "model.safetensors"), HfTensors(c).Select(t => (t.Name, "F32", t.Shape, Encode(synth.ReadF32(t.Name, t.Shape.Aggregate(1L, (a, b) => a * b)), "F32"))));
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model_type"] = c.QkvBias ? "qwen2" : "llama",
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.Hidden,
            ["num_hidden_layers"] = c.Layers,
            ["num_attention_heads"] = c.Heads,
            ["num_key_value_heads"] = c.KvHeads,
            ["intermediate_size"] = c.Intermediate,
            ["rms_norm_eps"] = c.RmsEps,
            ["rope_theta"] = c.RopeTheta,
            ["tie_word_embeddings"] = c.TieEmbeddings,
            ["max_position_embeddings"] = c.MaxPositions,
        }));
    }

    public sealed record GgufTensor(string Name, long[] Dims, uint Type, byte[] Data);

    public static void WriteGguf(string path, IReadOnlyList<(string Key, object Value)> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        using var fs = File.Create(path);
        using var w = new BinaryWriter(fs, Encoding.UTF8);
        w.Write(0x46554747u);
        w.Write(3u);
        w.Write((long)tensors.Count);
        w.Write((long)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            switch (value)
            {
                case string s: w.Write(8u); WriteString(w, s); break;
                case uint u: w.Write(4u); w.Write(u); break;
                case float f: w.Write(6u); w.Write(f); break;
                default: throw new ArgumentException($"unsupported metadata {value.GetType()}");
            }
        }

        long offset = 0;
        var offsets = new List<long>();
        foreach (var t in tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (long d in t.Dims)
            {
                w.Write(d);
            }

            w.Write(t.Type);
            w.Write(offset);
            offsets.Add(offset);
            offset += (t.Data.Length + 31) / 32 * 32;
        }

        Pad(w);
        foreach (var t in tensors)
        {
            w.Write(t.Data);
            Pad(w);
        }
    }

    private static void Pad(BinaryWriter w)
    {
        while (w.BaseStream.Position % 32 != 0)
        {
            w.Write((byte)0);
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((long)b.Length);
        w.Write(b);
    }

    /// <summary>A synthetic llama model as a GGUF file (F32, q/k permuted the way llama.cpp's converter does).</summary>
    public static void WriteGgufModel(string path, ModelConfig c, ulong seed)
    {
        var synth = new SyntheticWeights(c, seed);
        var tensors = new List<GgufTensor>();
        foreach (var (name, shape) in HfTensors(c))
        {
            var values = synth.ReadF32(name, shape.Aggregate(1L, (a, b) => a * b));
            if (name.EndsWith("q_proj.weight", StringComparison.Ordinal))
            {
                values = GgufFile.PermuteRotary(values, c.Heads, c.Hidden);
            }
            else if (name.EndsWith("k_proj.weight", StringComparison.Ordinal))
            {
                values = GgufFile.PermuteRotary(values, c.KvHeads, c.Hidden);
            }

            tensors.Add(new GgufTensor(GgufFile.GgufName(name), [.. shape.Reverse()], GgufFile.TypeF32, Encode(values, "F32")));
        }

        WriteGguf(path, [
            ("general.architecture", "llama"),
            ("general.name", "micro-gguf"),
            ("llama.embedding_length", (uint)c.Hidden),
            ("llama.block_count", (uint)c.Layers),
            ("llama.attention.head_count", (uint)c.Heads),
            ("llama.attention.head_count_kv", (uint)c.KvHeads),
            ("llama.feed_forward_length", (uint)c.Intermediate),
            ("llama.attention.layer_norm_rms_epsilon", c.RmsEps),
            ("llama.rope.freq_base", c.RopeTheta),
            ("llama.context_length", (uint)c.MaxPositions),
        ], tensors);
    }
}
