using System.Globalization;
using System.Text;
using TierKv.Engine.Model;

namespace TierKv.Engine.Loading;

/// <summary>
/// Reads a GGUF file (llama.cpp's format, versions 2 and 3): metadata, tensor infos and F32, F16, BF16 and Q8_0
/// tensors, exposed under Hugging Face names. Llama-architecture files store q and k rows permuted for llama.cpp's
/// rotary convention; they are permuted back so the engine's Hugging Face convention applies.
/// </summary>
public sealed class GgufFile : ITensorSource
{
    /// <summary>GGML type ids this reader converts.</summary>
    public const uint TypeF32 = 0, TypeF16 = 1, TypeQ8_0 = 8, TypeBF16 = 30;

    private readonly string _path;
    private readonly Dictionary<string, (uint Type, long[] Dims, long Offset)> _tensors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, object> _metadata = new(StringComparer.Ordinal);
    private readonly long _dataStart;

    /// <summary>Parses the header of <paramref name="path"/>.</summary>
    public GgufFile(string path)
    {
        _path = path;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var r = new BinaryReader(fs, Encoding.UTF8, leaveOpen: true);
        if (r.ReadUInt32() != 0x46554747)
        {
            throw new InvalidDataException($"{path}: not a GGUF file (bad magic).");
        }

        uint version = r.ReadUInt32();
        if (version is < 2 or > 3)
        {
            throw new InvalidDataException($"{path}: GGUF version {version} is not supported (2 or 3).");
        }

        long tensors = r.ReadInt64(), kvs = r.ReadInt64();
        for (long i = 0; i < kvs; i++)
        {
            string key = ReadString(r);
            _metadata[key] = ReadValue(r, r.ReadUInt32());
        }

        for (long i = 0; i < tensors; i++)
        {
            string name = ReadString(r);
            uint nd = r.ReadUInt32();
            var dims = new long[nd];
            for (int d = 0; d < nd; d++)
            {
                dims[d] = r.ReadInt64();
            }

            uint type = r.ReadUInt32();
            long offset = r.ReadInt64();
            _tensors[name] = (type, dims, offset);
        }

        long alignment = _metadata.TryGetValue("general.alignment", out var a) ? Convert.ToInt64(a, CultureInfo.InvariantCulture) : 32;
        _dataStart = (fs.Position + alignment - 1) / alignment * alignment;
        long required = _dataStart;
        foreach (var (_, (type, dims, offset)) in _tensors)
        {
            long elements = 1;
            foreach (long d in dims)
            {
                elements *= d;
            }

            long bytes = type switch
            {
                TypeF32 => elements * 4,
                TypeF16 or TypeBF16 => elements * 2,
                TypeQ8_0 => elements / 32 * TensorDecoding.Q8_0BlockBytes,
                _ => 0,
            };
            required = System.Math.Max(required, _dataStart + offset + bytes);
        }

        RequiredLength = required;
        Architecture = _metadata.TryGetValue("general.architecture", out var arch) ? (string)arch : "llama";
    }

    /// <summary>
    /// The file length its tensor infos require: the end of the last tensor's data (tensors of types this reader does not
    /// size count with their offset only). A shorter file is truncated.
    /// </summary>
    public long RequiredLength { get; }

    /// <summary><c>general.architecture</c> (llama, qwen2, ...).</summary>
    public string Architecture { get; }

    /// <summary>Metadata values by key (numbers, strings, bools, arrays as object[]).</summary>
    public IReadOnlyDictionary<string, object> Metadata => _metadata;

    /// <summary>The model configuration from the metadata.</summary>
    public ModelConfig ReadConfig(string name)
    {
        string p = Architecture + ".";
        if (Architecture is not ("llama" or "qwen2" or "mistral"))
        {
            throw new InvalidDataException($"{_path}: architecture '{Architecture}' is not supported; the engine runs llama and qwen2.");
        }

        int hidden = MetaInt(p + "embedding_length");
        int heads = MetaInt(p + "attention.head_count");
        int vocab = _tensors.TryGetValue("token_embd.weight", out var emb) ? (int)emb.Dims[1] : MetaInt(p + "vocab_size");
        var config = new ModelConfig
        {
            Name = name,
            VocabSize = vocab,
            Hidden = hidden,
            Layers = MetaInt(p + "block_count"),
            Heads = heads,
            KvHeads = _metadata.ContainsKey(p + "attention.head_count_kv") ? MetaInt(p + "attention.head_count_kv") : heads,
            HeadDim = _metadata.ContainsKey(p + "attention.key_length") ? MetaInt(p + "attention.key_length") : hidden / heads,
            Intermediate = MetaInt(p + "feed_forward_length"),
            RmsEps = _metadata.TryGetValue(p + "attention.layer_norm_rms_epsilon", out var eps) ? Convert.ToSingle(eps, CultureInfo.InvariantCulture) : 1e-5f,
            RopeTheta = _metadata.TryGetValue(p + "rope.freq_base", out var th) ? Convert.ToSingle(th, CultureInfo.InvariantCulture) : 10000f,
            TieEmbeddings = !_tensors.ContainsKey("output.weight"),
            QkvBias = _tensors.ContainsKey("blk.0.attn_q.bias"),
            MaxPositions = System.Math.Min(_metadata.ContainsKey(p + "context_length") ? MetaInt(p + "context_length") : 8192, 32768),
        };
        config.Validate();
        return config;
    }

    private int MetaInt(string key) => _metadata.TryGetValue(key, out var v)
        ? Convert.ToInt32(v, CultureInfo.InvariantCulture)
        : throw new InvalidDataException($"{_path}: metadata '{key}' is missing.");

    /// <summary>The GGUF name of a Hugging Face tensor name.</summary>
    public static string GgufName(string hfName)
    {
        if (hfName == "model.embed_tokens.weight")
        {
            return "token_embd.weight";
        }

        if (hfName == "model.norm.weight")
        {
            return "output_norm.weight";
        }

        if (hfName == "lm_head.weight")
        {
            return "output.weight";
        }

        if (hfName.StartsWith("model.layers.", StringComparison.Ordinal))
        {
            int dot = hfName.IndexOf('.', 13);
            string layer = hfName[13..dot];
            string rest = hfName[(dot + 1)..] switch
            {
                "input_layernorm.weight" => "attn_norm.weight",
                "post_attention_layernorm.weight" => "ffn_norm.weight",
                "self_attn.q_proj.weight" => "attn_q.weight",
                "self_attn.k_proj.weight" => "attn_k.weight",
                "self_attn.v_proj.weight" => "attn_v.weight",
                "self_attn.q_proj.bias" => "attn_q.bias",
                "self_attn.k_proj.bias" => "attn_k.bias",
                "self_attn.v_proj.bias" => "attn_v.bias",
                "self_attn.o_proj.weight" => "attn_output.weight",
                "mlp.gate_proj.weight" => "ffn_gate.weight",
                "mlp.up_proj.weight" => "ffn_up.weight",
                "mlp.down_proj.weight" => "ffn_down.weight",
                var other => other,
            };
            return $"blk.{layer}.{rest}";
        }

        return hfName;
    }

    /// <inheritdoc />
    public bool Contains(string name) => _tensors.ContainsKey(GgufName(name));

    /// <inheritdoc />
    public float[] ReadF32(string name, long expectedElements)
    {
        string g = GgufName(name);
        if (!_tensors.TryGetValue(g, out var t))
        {
            throw new InvalidDataException($"{_path}: no tensor '{g}' (for {name}).");
        }

        long elements = TensorDecoding.CheckElements($"{_path}: tensor '{g}'", "dims", t.Dims, expectedElements);

        long bytes = t.Type switch
        {
            TypeF32 => elements * 4,
            TypeF16 or TypeBF16 => elements * 2,
            TypeQ8_0 => elements / 32 * TensorDecoding.Q8_0BlockBytes,
            _ => throw new InvalidDataException($"{_path}: tensor '{g}' has GGML type {t.Type}; supported are F32 (0), F16 (1), Q8_0 (8) and BF16 (30)."),
        };
        var raw = new byte[bytes];
        using (var handle = File.OpenHandle(_path))
        {
            int got = RandomAccess.Read(handle, raw, _dataStart + t.Offset);
            if (got != bytes)
            {
                throw new InvalidDataException($"{_path}: tensor '{g}' is truncated.");
            }
        }

        var result = new float[elements];
        switch (t.Type)
        {
            case TypeF32: TensorDecoding.F32(raw, result); break;
            case TypeF16: TensorDecoding.F16(raw, result); break;
            case TypeBF16: TensorDecoding.BF16(raw, result); break;
            default: TensorDecoding.Q8_0(raw, result); break;
        }

        // llama.cpp's converter interleaves the two rotary halves of each q/k head; undo it for llama files.
        if (Architecture == "llama" && (g.EndsWith("attn_q.weight", StringComparison.Ordinal) || g.EndsWith("attn_k.weight", StringComparison.Ordinal)))
        {
            int heads = g.EndsWith("attn_q.weight", StringComparison.Ordinal)
                ? MetaInt("llama.attention.head_count")
                : (_metadata.ContainsKey("llama.attention.head_count_kv") ? MetaInt("llama.attention.head_count_kv") : MetaInt("llama.attention.head_count"));
            result = UnpermuteRotary(result, heads, (int)t.Dims[0]);
        }

        return result;
    }

    /// <summary>
    /// Inverse of llama.cpp's q/k permutation: row <c>h·d + 2i + s</c> of the file is row <c>h·d + s·d/2 + i</c> of
    /// the Hugging Face weight (d the head dimension, s ∈ {0, 1}).
    /// </summary>
    public static float[] UnpermuteRotary(float[] w, int heads, int columns) => MoveRotaryRows(w, heads, columns, interleave: false);

    /// <summary>Forward permutation (what llama.cpp's converter applies), for writing test files.</summary>
    public static float[] PermuteRotary(float[] w, int heads, int columns) => MoveRotaryRows(w, heads, columns, interleave: true);

    // Row h·d + 2i + s of the file layout pairs with row h·d + s·d/2 + i of the Hugging Face one; copies one way or the other.
    private static float[] MoveRotaryRows(float[] w, int heads, int columns, bool interleave)
    {
        int rows = w.Length / columns;
        int hd = rows / heads, half = hd / 2;
        var outW = new float[w.Length];
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < half; i++)
            {
                for (int s = 0; s < 2; s++)
                {
                    long file = ((long)(h * hd) + (2 * i) + s) * columns;
                    long split = ((long)(h * hd) + (s * half) + i) * columns;
                    Array.Copy(w, interleave ? split : file, outW, interleave ? file : split, columns);
                }
            }
        }

        return outW;
    }

    private static string ReadString(BinaryReader r)
    {
        long len = r.ReadInt64();
        if (len is < 0 or > 1 << 24)
        {
            throw new InvalidDataException($"GGUF string of {len} bytes.");
        }

        return Encoding.UTF8.GetString(r.ReadBytes((int)len));
    }

    private static object ReadValue(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(),
        1 => r.ReadSByte(),
        2 => r.ReadUInt16(),
        3 => r.ReadInt16(),
        4 => r.ReadUInt32(),
        5 => r.ReadInt32(),
        6 => r.ReadSingle(),
        7 => r.ReadByte() != 0,
        8 => ReadString(r),
        9 => ReadArray(r),
        10 => r.ReadUInt64(),
        11 => r.ReadInt64(),
        12 => r.ReadDouble(),
        _ => throw new InvalidDataException($"Unknown GGUF value type {type}."),
    };

    private static object[] ReadArray(BinaryReader r)
    {
        uint type = r.ReadUInt32();
        long n = r.ReadInt64();
        if (n is < 0 or > 1 << 26)
        {
            throw new InvalidDataException($"GGUF array of {n} elements.");
        }

        var items = new object[n];
        for (long i = 0; i < n; i++)
        {
            items[i] = ReadValue(r, type);
        }

        return items;
    }
}
