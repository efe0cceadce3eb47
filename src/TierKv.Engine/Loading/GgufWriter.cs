using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using TierKv.Engine.Model;

namespace TierKv.Engine.Loading;

/// <summary>
/// Writes GGUF version 3 files (ggml's docs/gguf.md): header (magic, version, u64 tensor and metadata counts),
/// metadata key/values, tensor infos (name, dims innermost first, type, offset from the data start), then the tensor
/// data, each tensor aligned to <see cref="Alignment"/> bytes. Metadata values may be <c>string</c>, <c>uint</c>,
/// <c>int</c>, <c>float</c>, <c>bool</c>, or arrays of <c>string</c>, <c>int</c> or <c>float</c>.
/// </summary>
public static class GgufWriter
{
    /// <summary>The default <c>general.alignment</c> of GGUF.</summary>
    public const int Alignment = 32;

    private const uint TypeUInt32 = 4, TypeInt32 = 5, TypeFloat32 = 6, TypeBool = 7, TypeString = 8, TypeArray = 9;

    /// <summary>Writes <paramref name="tensors"/> with <paramref name="metadata"/> to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<(string Key, object Value)> metadata, IReadOnlyList<GgufTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(tensors);
        string tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        using (var w = new BinaryWriter(fs, Encoding.UTF8))
        {
            w.Write(0x46554747u); // "GGUF"
            w.Write(3u);
            w.Write((ulong)tensors.Count);
            w.Write((ulong)metadata.Count);
            foreach (var (key, value) in metadata)
            {
                WriteString(w, key);
                WriteValue(w, key, value);
            }

            long offset = 0;
            foreach (var t in tensors)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Dims.Length);
                foreach (long d in t.Dims)
                {
                    w.Write((ulong)d);
                }

                w.Write(t.Type);
                w.Write((ulong)offset);
                offset += (t.Bytes + Alignment - 1) / Alignment * Alignment;
            }

            Pad(w);
            foreach (var t in tensors)
            {
                var data = t.Data();
                if (data.LongLength != t.Bytes)
                {
                    throw new InvalidOperationException($"Tensor {t.Name} announced {t.Bytes} bytes but produced {data.LongLength}.");
                }

                w.Write(data);
                Pad(w);
            }
        }

        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// The tensors of a Llama-family model under Hugging Face names with their row-major shapes (outermost first), in
    /// the order a converter writes them.
    /// </summary>
    public static IEnumerable<(string Name, long[] Shape)> HfTensors(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
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

    /// <summary>
    /// Writes a Llama-architecture model with <paramref name="weights"/> (e.g. <see cref="SyntheticWeights"/>): q and k
    /// rows permuted the way llama.cpp's converter does, matrices in <paramref name="matrixType"/>
    /// (<see cref="GgufFile.TypeF32"/> or <see cref="GgufFile.TypeF16"/>), norms in F32, and the
    /// <c>llama.*</c> hyperparameters followed by <paramref name="extraMetadata"/> (e.g. a tokenizer; a key given
    /// there replaces the default).
    /// </summary>
    public static void WriteModel(string path, ModelConfig c, ITensorSource weights, uint matrixType = GgufFile.TypeF32, IReadOnlyList<(string Key, object Value)>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(weights);
        if (matrixType is not (GgufFile.TypeF32 or GgufFile.TypeF16))
        {
            throw new ArgumentOutOfRangeException(nameof(matrixType), matrixType, "Model files are written in F32 or F16.");
        }

        var tensors = new List<GgufTensor>();
        foreach (var (name, shape) in HfTensors(c))
        {
            long elements = 1;
            foreach (long d in shape)
            {
                elements *= d;
            }

            // llama.cpp keeps 1-D tensors (norms, biases) in F32 whatever the file type.
            uint type = shape.Length == 1 ? GgufFile.TypeF32 : matrixType;
            string n = name;
            tensors.Add(new GgufTensor(GgufFile.GgufName(name), [.. shape.Reverse()], type, elements * (type == GgufFile.TypeF32 ? 4 : 2), () =>
            {
                var values = weights.ReadF32(n, elements);
                if (n.EndsWith("q_proj.weight", StringComparison.Ordinal))
                {
                    values = GgufFile.PermuteRotary(values, c.Heads, c.Hidden);
                }
                else if (n.EndsWith("k_proj.weight", StringComparison.Ordinal))
                {
                    values = GgufFile.PermuteRotary(values, c.KvHeads, c.Hidden);
                }

                return Encode(values, type);
            }));
        }

        var metadata = new List<(string Key, object Value)>
        {
            ("general.architecture", "llama"),
            ("general.name", c.Name),
            ("general.file_type", matrixType == GgufFile.TypeF32 ? 0u : 1u),
            ("llama.context_length", (uint)c.MaxPositions),
            ("llama.embedding_length", (uint)c.Hidden),
            ("llama.block_count", (uint)c.Layers),
            ("llama.feed_forward_length", (uint)c.Intermediate),
            ("llama.attention.head_count", (uint)c.Heads),
            ("llama.attention.head_count_kv", (uint)c.KvHeads),
            ("llama.rope.dimension_count", (uint)c.HeadDim),
            ("llama.attention.layer_norm_rms_epsilon", c.RmsEps),
            ("llama.rope.freq_base", c.RopeTheta),
        };
        foreach (var (key, value) in extraMetadata ?? [])
        {
            // A key given again replaces the default (e.g. general.name).
            int at = metadata.FindIndex(m => m.Key == key);
            if (at >= 0)
            {
                metadata[at] = (key, value);
            }
            else
            {
                metadata.Add((key, value));
            }
        }

        Write(path, metadata, tensors);
    }

    /// <summary>Encodes <paramref name="values"/> as F32 or F16 little-endian bytes.</summary>
    public static byte[] Encode(ReadOnlySpan<float> values, uint type)
    {
        if (type == GgufFile.TypeF32)
        {
            var bytes = new byte[values.Length * 4];
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
            }

            return bytes;
        }

        if (type == GgufFile.TypeF16)
        {
            var bytes = new byte[values.Length * 2];
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), BitConverter.HalfToUInt16Bits((Half)values[i]));
            }

            return bytes;
        }

        throw new ArgumentOutOfRangeException(nameof(type), type, "Only F32 and F16 are encoded.");
    }

    private static void WriteValue(BinaryWriter w, string key, object value)
    {
        switch (value)
        {
            case string s: w.Write(TypeString); WriteString(w, s); break;
            case uint u: w.Write(TypeUInt32); w.Write(u); break;
            case int i: w.Write(TypeInt32); w.Write(i); break;
            case float f: w.Write(TypeFloat32); w.Write(f); break;
            case bool b: w.Write(TypeBool); w.Write((byte)(b ? 1 : 0)); break;
            case string[] strings: WriteArray(w, TypeString, strings, WriteString); break;
            case int[] ints: WriteArray(w, TypeInt32, ints, static (o, i) => o.Write(i)); break;
            case float[] floats: WriteArray(w, TypeFloat32, floats, static (o, f) => o.Write(f)); break;
            default:
                throw new ArgumentException($"GGUF metadata '{key}': values of type {value.GetType().Name} are not written.", nameof(value));
        }
    }

    /// <summary>An array value: its element type, its length, then each element.</summary>
    private static void WriteArray<T>(BinaryWriter w, uint elementType, T[] items, Action<BinaryWriter, T> write)
    {
        w.Write(TypeArray);
        w.Write(elementType);
        w.Write((ulong)items.Length);
        foreach (var item in items)
        {
            write(w, item);
        }
    }

    private static void Pad(BinaryWriter w)
    {
        long pad = (Alignment - (w.BaseStream.Position % Alignment)) % Alignment;
        for (long i = 0; i < pad; i++)
        {
            w.Write((byte)0);
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }
}
