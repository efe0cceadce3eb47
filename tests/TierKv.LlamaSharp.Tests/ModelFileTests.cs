using TierKv.Engine.Loading;
using TierKv.LlamaSharp.Model;

namespace TierKv.LlamaSharp.Tests;

/// <summary>Model files: clear errors naming the file, and the weights fingerprint with its cache.</summary>
public sealed class ModelFileTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void A_truncated_gguf_is_an_error_naming_the_file()
    {
        string path = Copy("truncated.gguf", bytes => bytes[..(bytes.Length / 2)]);
        var ex = Assert.Throws<InvalidDataException>(() => LlamaModelFile.Open(path, null));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gguf_cut_inside_its_metadata_is_an_error_naming_the_file()
    {
        string path = Copy("header.gguf", bytes => bytes[..200]);
        var ex = Assert.Throws<InvalidDataException>(() => LlamaModelFile.Open(path, null));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_magic_is_an_error_naming_the_file()
    {
        string path = Copy("magic.gguf", bytes =>
        {
            bytes[0] = (byte)'X';
            return bytes;
        });
        var ex = Assert.Throws<InvalidDataException>(() => LlamaModelFile.Open(path, null));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unsupported_architecture_is_an_error_naming_the_file()
    {
        string path = Path.Combine(fixture.Directory, "arch.gguf");
        GgufWriter.Write(path, [("general.architecture", "mamba")], [new GgufTensor("x", [4], GgufFile.TypeF32, new byte[16])]);
        var ex = Assert.Throws<InvalidDataException>(() => LlamaModelFile.Open(path, null));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("mamba", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fingerprint_is_xxh3_128_of_the_file_and_is_cached_by_path_length_and_mtime()
    {
        string data = Path.Combine(fixture.Directory, "fp-" + Guid.NewGuid().ToString("N"));
        string path = Copy("fp.gguf", b => b);
        var expected = System.IO.Hashing.XxHash128.HashToUInt128(File.ReadAllBytes(path));
        Assert.Equal(expected, ModelFingerprint.Get(path, data, out bool cached1));
        Assert.False(cached1);
        Assert.Equal(expected, ModelFingerprint.Get(path, data, out bool cached2));
        Assert.True(cached2);

        // Changed in place: another mtime, so hashed again.
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 1;
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        Assert.NotEqual(expected, ModelFingerprint.Get(path, data, out bool cached3));
        Assert.False(cached3);
    }

    [Fact]
    public void The_model_id_names_the_weights()
    {
        var a = LlamaModelFile.Open(fixture.ModelPath, null);
        var b = LlamaModelFile.Open(fixture.OtherModelPath, null);
        Assert.Equal(a.Config.Layers, b.Config.Layers);
        Assert.NotEqual(a.ModelId, b.ModelId);
        Assert.StartsWith("gguf-xxh3-128:", a.ModelId, StringComparison.Ordinal);
    }

    private string Copy(string name, Func<byte[], byte[]> change)
    {
        string path = Path.Combine(fixture.Directory, name);
        File.WriteAllBytes(path, change(File.ReadAllBytes(fixture.ModelPath)));
        return path;
    }
}
