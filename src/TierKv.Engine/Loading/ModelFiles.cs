using TierKv.Engine.Model;

namespace TierKv.Engine.Loading;

/// <summary>Opens a model from a path: a GGUF file, a safetensors file with <c>config.json</c> beside it, or a folder with both.</summary>
public static class ModelFiles
{
    /// <summary>Loads the weights at <paramref name="path"/>.</summary>
    public static ModelWeights Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path) && path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            var gguf = new GgufFile(path);
            string name = gguf.Metadata.TryGetValue("general.name", out var n) ? n.ToString() ?? Path.GetFileNameWithoutExtension(path) : Path.GetFileNameWithoutExtension(path);
            return ModelWeights.Load(gguf.ReadConfig(name), gguf);
        }

        string dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        string config = Path.Combine(dir, "config.json");
        if (!File.Exists(config))
        {
            throw new FileNotFoundException($"No config.json next to {path}: a safetensors model needs its Hugging Face config.", config);
        }

        string[] files = File.Exists(path) ? [path] : Directory.GetFiles(dir, "*.safetensors");
        if (files.Length == 0)
        {
            throw new FileNotFoundException($"No .safetensors or .gguf file at {path}.", path);
        }

        Array.Sort(files, StringComparer.Ordinal);
        var cfg = HuggingFaceConfig.Read(config, Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar)));
        return ModelWeights.Load(cfg, new SafetensorsFile(files));
    }
}
