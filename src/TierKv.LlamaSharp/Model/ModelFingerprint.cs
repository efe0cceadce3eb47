using System.Globalization;
using System.IO.Hashing;
using System.Text;

namespace TierKv.LlamaSharp.Model;

/// <summary>
/// The fingerprint that names a model's weights (docs/hashing.md, "Model fingerprint"): XXH3-128, seed 0, over every byte
/// of the GGUF file (header, metadata, tensor infos, padding and tensor data), in file order. Hashing a large file takes
/// seconds, so the result is cached in <see cref="CacheFileName"/> in the data folder, keyed by the file's full path,
/// length and last-write time: a file changed in place gets a new fingerprint.
/// </summary>
public static class ModelFingerprint
{
    /// <summary>The cache file inside the data folder: one line per model, <c>path \t length \t mtime ticks \t hex</c>.</summary>
    public const string CacheFileName = "model-fingerprints.tsv";

    private static readonly Lock CacheLock = new();

    /// <summary>XXH3-128 of the whole file (no cache).</summary>
    public static UInt128 Compute(string path)
    {
        var hasher = new XxHash128();
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[4 << 20];
        int n;
        while ((n = fs.Read(buffer)) > 0)
        {
            hasher.Append(buffer.AsSpan(0, n));
        }

        return hasher.GetCurrentHashAsUInt128();
    }

    /// <summary>
    /// The fingerprint of <paramref name="path"/>, from the cache in <paramref name="dataDirectory"/> when its path, length
    /// and modification time match, else computed and added to the cache. <paramref name="fromCache"/> says which.
    /// </summary>
    public static UInt128 Get(string path, string? dataDirectory, out bool fromCache)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Model file {info.FullName} does not exist.", info.FullName);
        }

        string key = string.Create(CultureInfo.InvariantCulture, $"{info.FullName}\t{info.Length}\t{info.LastWriteTimeUtc.Ticks}");
        string? cache = dataDirectory is null ? null : Path.Combine(dataDirectory, CacheFileName);
        lock (CacheLock)
        {
            if (cache is not null && File.Exists(cache))
            {
                foreach (string line in File.ReadLines(cache))
                {
                    int tab = line.LastIndexOf('\t');
                    if (tab > 0 && line.AsSpan(0, tab).SequenceEqual(key) && UInt128.TryParse(line.AsSpan(tab + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var cached))
                    {
                        fromCache = true;
                        return cached;
                    }
                }
            }

            var value = Compute(info.FullName);
            fromCache = false;
            if (cache is not null)
            {
                Directory.CreateDirectory(dataDirectory!);
                File.AppendAllText(cache, key + "\t" + value.ToString("x32", CultureInfo.InvariantCulture) + "\n", Encoding.UTF8);
            }

            return value;
        }
    }
}
