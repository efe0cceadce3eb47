using TierKv.Engine.Loading;
using TierKv.Engine.Model;

namespace TierKv.LlamaSharp.Model;

/// <summary>
/// A GGUF model file checked before llama.cpp sees it: it parses, its tensors lie inside the file, and its architecture's
/// attention shape (layers, KV heads, head dim) is known. Every problem is an <see cref="InvalidDataException"/> naming
/// the file, instead of a failure deep inside the native library.
/// </summary>
public sealed class LlamaModelFile
{
    private LlamaModelFile(string path, ModelConfig config, UInt128 fingerprint)
    {
        Path = path;
        Config = config;
        Fingerprint = fingerprint;
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>The model's shape from its metadata.</summary>
    public ModelConfig Config { get; }

    /// <summary>XXH3-128 of the file (<see cref="ModelFingerprint"/>).</summary>
    public UInt128 Fingerprint { get; }

    /// <summary>The model id that enters TierKV's layout fingerprint: names the weights, not only the architecture.</summary>
    public string ModelId => $"gguf-xxh3-128:{Fingerprint:x32}";

    /// <summary>Opens and checks <paramref name="path"/>; the fingerprint is cached in <paramref name="dataDirectory"/> (null: not cached).</summary>
    public static LlamaModelFile Open(string path, string? dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"Model file {full} does not exist.", full);
        }

        GgufFile gguf;
        try
        {
            gguf = new GgufFile(full);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ArgumentException or OverflowException or InvalidCastException or OutOfMemoryException)
        {
            throw new InvalidDataException($"{full}: not a readable GGUF file ({ex.GetType().Name}: {ex.Message}); the header or metadata is damaged or truncated.", ex);
        }

        long length = new FileInfo(full).Length;
        if (length < gguf.RequiredLength)
        {
            throw new InvalidDataException($"{full}: truncated GGUF file: its tensors need {gguf.RequiredLength} bytes but the file has {length}.");
        }

        ModelConfig config;
        try
        {
            config = gguf.ReadConfig(System.IO.Path.GetFileNameWithoutExtension(full));
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidCastException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{full}: unsupported or inconsistent model metadata: {ex.Message}", ex);
        }

        return new LlamaModelFile(full, config, ModelFingerprint.Get(full, dataDirectory, out _));
    }
}
