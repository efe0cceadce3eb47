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
    public static IEnumerable<(string Name, long[] Shape)> HfTensors(ModelConfig c) => GgufWriter.HfTensors(c);

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

    /// <summary>GGUF files are written by the product's writer (one mechanism for tests and `tierkv make-model`).</summary>
    public static void WriteGguf(string path, IReadOnlyList<(string Key, object Value)> metadata, IReadOnlyList<GgufTensor> tensors) =>
        GgufWriter.Write(path, metadata, tensors);

    /// <summary>A synthetic llama model as a GGUF file (F32, q/k permuted the way llama.cpp's converter does).</summary>
    public static void WriteGgufModel(string path, ModelConfig c, ulong seed) =>
        GgufWriter.WriteModel(path, c, new SyntheticWeights(c, seed), extraMetadata: [("general.name", "micro-gguf")]);
}
