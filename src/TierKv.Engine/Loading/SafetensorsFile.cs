using System.Buffers.Binary;
using System.Text.Json;
using TierKv.Engine.Model;

namespace TierKv.Engine.Loading;

/// <summary>
/// Reads tensors from one or more safetensors files (an 8-byte header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the data). F32, F16 and BF16 are converted to float32.
/// </summary>
public sealed class SafetensorsFile : ITensorSource
{
    private readonly Dictionary<string, (string Path, long Start, long Length, string Dtype, long[] Shape)> _tensors = new(StringComparer.Ordinal);

    /// <summary>Indexes the given files.</summary>
    public SafetensorsFile(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        foreach (string path in paths)
        {
            Index(path);
        }

        if (_tensors.Count == 0)
        {
            throw new InvalidDataException("No tensors found in the safetensors files.");
        }
    }

    /// <summary>Tensor names.</summary>
    public IEnumerable<string> Names => _tensors.Keys;

    /// <summary>Shape of a tensor.</summary>
    public IReadOnlyList<long> Shape(string name) => _tensors[name].Shape;

    private void Index(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> len = stackalloc byte[8];
        fs.ReadExactly(len);
        long headerLen = BinaryPrimitives.ReadInt64LittleEndian(len);
        if (headerLen <= 0 || headerLen > 100 << 20 || 8 + headerLen > fs.Length)
        {
            throw new InvalidDataException($"{path}: not a safetensors file (header length {headerLen}).");
        }

        var header = new byte[headerLen];
        fs.ReadExactly(header);
        using var doc = JsonDocument.Parse(header);
        long dataStart = 8 + headerLen;
        foreach (var t in doc.RootElement.EnumerateObject())
        {
            if (t.Name == "__metadata__")
            {
                continue;
            }

            string dtype = t.Value.GetProperty("dtype").GetString() ?? "";
            var shape = t.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offs = t.Value.GetProperty("data_offsets");
            long begin = offs[0].GetInt64(), end = offs[1].GetInt64();
            if (begin < 0 || end < begin || dataStart + end > fs.Length)
            {
                throw new InvalidDataException($"{path}: tensor {t.Name} has byte range [{begin}, {end}) outside the file.");
            }

            _tensors[t.Name] = (path, dataStart + begin, end - begin, dtype, shape);
        }
    }

    /// <inheritdoc />
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <inheritdoc />
    public float[] ReadF32(string name, long expectedElements)
    {
        if (!_tensors.TryGetValue(name, out var t))
        {
            throw new InvalidDataException($"The safetensors files have no tensor '{name}'.");
        }

        long elements = TensorDecoding.CheckElements($"Tensor '{name}'", "shape", t.Shape, expectedElements);

        int size = t.Dtype switch
        {
            "F32" => 4,
            "F16" or "BF16" => 2,
            _ => throw new InvalidDataException($"Tensor '{name}' has dtype {t.Dtype}; supported are F32, F16 and BF16."),
        };
        if (t.Length != elements * size)
        {
            throw new InvalidDataException($"Tensor '{name}' spans {t.Length} bytes, not {elements * size}.");
        }

        var raw = new byte[t.Length];
        using (var handle = File.OpenHandle(t.Path))
        {
            RandomAccess.Read(handle, raw, t.Start);
        }

        var result = new float[elements];
        switch (t.Dtype)
        {
            case "F32": TensorDecoding.F32(raw, result); break;
            case "F16": TensorDecoding.F16(raw, result); break;
            default: TensorDecoding.BF16(raw, result); break;
        }

        return result;
    }
}
