using System.Diagnostics;
using System.Text;
using CsCheck;
using TierKv.Keys;

namespace TierKv.Core.Tests;

public class PrefixHasherTests
{
    private static readonly KvLayout Llama8B = new("meta-llama/Meta-Llama-3-8B", 32, 8, 128, KvElementType.BFloat16);
    private static readonly KvLayout Small = new("test/model", 2, 2, 4, KvElementType.Float16, tokensPerChunk: 4);

    // The vectors of docs/hashing.md (reproduced from the spec by scripts/hashing_vectors.py).
    [Fact]
    public void Keys_match_the_published_test_vectors()
    {
        int[] seq = [.. Enumerable.Range(0, 256)];
        Assert.Equal("a70c9cd94b2d2dbae9d12359f54a26a4", Llama8B.Fingerprint.ToString());
        Assert.Equal("42fceaeb97ff20a383bd2887e5f0fbae", PrefixHasher.Root(Llama8B, TenantSalt.None).ToString());
        Assert.Equal(["6560d74879d90ae94f7eb11fad761827"], Hex(PrefixHasher.ComputeKeys(Llama8B, TenantSalt.None, seq)));
        Assert.Equal(["1d7fdc1c6be775d2e733c08ab7f87e7d"], Hex(PrefixHasher.ComputeKeys(Llama8B, TenantSalt.FromString("tenant-a"), seq)));

        var l1 = new KvLayout("meta-llama/Llama-3.2-1B", 16, 8, 64, KvElementType.BFloat16);
        Assert.Equal("2f0c6a1a3e094da63bbaea1f2f1254f2", l1.Fingerprint.ToString());
        Assert.Equal(["3eb14081881fb62f375443288383b205"], Hex(PrefixHasher.ComputeKeys(l1, TenantSalt.None, seq)));

        int[] several = [.. Enumerable.Range(0, 768).Select(i => ((i * 7919) + 13) % 128256)];
        Assert.Equal(
            ["0e5eebbb2cb36fe8bf58712ed778b32f", "9d65e58a3e73c57e3331232bd28eb93a", "773fbf36627e08ff645b2680442fa3ea"],
            Hex(PrefixHasher.ComputeKeys(Llama8B, TenantSalt.None, several)));

        Assert.Equal("62765b2ec35df822562c5a3075ec43bb", PrefixHasher.Root(Llama8B, TenantSalt.FromString("tenant-b")).ToString());
        Assert.Empty(PrefixHasher.ComputeKeys(Llama8B, TenantSalt.FromString("tenant-b"), [int.MaxValue, 0, 128255]));
    }

    [Fact]
    public void Keys_chain_so_equal_keys_mean_equal_prefixes()
    {
        int[] a = [1, 2, 3, 4, 5, 6, 7, 8];
        int[] b = [1, 2, 3, 4, 5, 6, 7, 9];
        int[] c = [1, 2, 3, 5, 5, 6, 7, 8];
        var ka = PrefixHasher.ComputeKeys(Small, TenantSalt.None, a);
        var kb = PrefixHasher.ComputeKeys(Small, TenantSalt.None, b);
        var kc = PrefixHasher.ComputeKeys(Small, TenantSalt.None, c);
        Assert.Equal(2, ka.Length);
        Assert.Equal(ka[0], kb[0]);
        Assert.NotEqual(ka[1], kb[1]);
        Assert.NotEqual(ka[0], kc[0]);
        Assert.NotEqual(ka[1], kc[1]); // same second chunk, different history
    }

    [Fact]
    public void A_key_of_a_prefix_is_the_same_whatever_follows_it()
    {
        Gen.Int[0, 1000].Array[4, 40].Sample(tokens =>
        {
            var full = PrefixHasher.ComputeKeys(Small, TenantSalt.None, tokens);
            for (int n = 0; n <= tokens.Length; n++)
            {
                var part = PrefixHasher.ComputeKeys(Small, TenantSalt.None, tokens.AsSpan(0, n));
                Assert.Equal(full.AsSpan(0, part.Length).ToArray(), part);
            }
        }, iter: 200);
    }

    [Fact]
    public void Next_extends_the_chain_one_chunk_at_a_time()
    {
        int[] tokens = [.. Enumerable.Range(100, 12)];
        var keys = PrefixHasher.ComputeKeys(Small, TenantSalt.None, tokens);
        var h = PrefixHasher.Root(Small, TenantSalt.None);
        for (int i = 0; i < keys.Length; i++)
        {
            h = PrefixHasher.Next(h, tokens.AsSpan(i * 4, 4));
            Assert.Equal(keys[i], h);
        }
    }

    [Fact]
    public void Salt_layout_and_tp_rank_each_change_every_key()
    {
        int[] tokens = [.. Enumerable.Range(0, 8)];
        var baseKeys = PrefixHasher.ComputeKeys(Small, TenantSalt.None, tokens);
        var others = new[]
        {
            PrefixHasher.ComputeKeys(Small, TenantSalt.FromString("t1"), tokens),
            PrefixHasher.ComputeKeys(new KvLayout("test/model", 2, 2, 4, KvElementType.BFloat16, tokensPerChunk: 4), TenantSalt.None, tokens),
            PrefixHasher.ComputeKeys(new KvLayout("test/model", 3, 2, 4, KvElementType.Float16, tokensPerChunk: 4), TenantSalt.None, tokens),
            PrefixHasher.ComputeKeys(new KvLayout("test/model", 2, 2, 4, KvElementType.Float16, tokensPerChunk: 4, tensorParallelRank: 1, tensorParallelSize: 2), TenantSalt.None, tokens),
            PrefixHasher.ComputeKeys(new KvLayout("test/model2", 2, 2, 4, KvElementType.Float16, tokensPerChunk: 4), TenantSalt.None, tokens),
        };
        foreach (var o in others)
        {
            Assert.Equal(2, o.Length);
            Assert.NotEqual(baseKeys[0], o[0]);
            Assert.NotEqual(baseKeys[1], o[1]);
        }
    }

    [Fact]
    public void Salts_that_differ_only_in_length_framing_give_different_roots()
    {
        // "ab" and "a" followed by "b" in the model id must not meet: the salt is length-prefixed.
        Assert.NotEqual(PrefixHasher.Root(Small, TenantSalt.FromString("ab")), PrefixHasher.Root(Small, TenantSalt.FromString("a")));
        Assert.NotEqual(PrefixHasher.Root(Small, TenantSalt.None), PrefixHasher.Root(Small, TenantSalt.FromBytes([0])));
    }

    [Fact]
    public void Keys_are_identical_in_another_process()
    {
        var cli = FindCli();
        var psi = new ProcessStartInfo("dotnet", [cli, "keys", "--vectors"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(7, lines.Length);
        int[] seq = [.. Enumerable.Range(0, 256)];
        Assert.Contains("\"root\":\"42fceaeb97ff20a383bd2887e5f0fbae\"", lines[0], StringComparison.Ordinal);
        Assert.Contains(PrefixHasher.ComputeKeys(Llama8B, TenantSalt.FromString("tenant-a"), seq)[0].ToString(), lines[1], StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Python_reproduces_the_vectors_from_the_spec_alone()
    {
        string python = "/usr/bin/python3";
        Skip.IfNot(File.Exists(python) && Run(python, "-c \"import xxhash\"").Code == 0, "Debian's python3-xxhash is not installed (apt-get install python3-xxhash); CI installs it.");
        string root = RepoRoot();
        var cli = Run("dotnet", $"\"{FindCli()}\" keys --vectors");
        Assert.Equal(0, cli.Code);
        string file = Path.Combine(Path.GetTempPath(), $"tierkv-vectors-{Environment.ProcessId}.jsonl");
        File.WriteAllText(file, cli.Out);
        try
        {
            var check = Run(python, $"\"{Path.Combine(root, "scripts", "hashing_vectors.py")}\" --check \"{file}\"");
            Assert.True(check.Code == 0, check.Out);
            Assert.Contains("all vectors match", check.Out, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Too_small_key_buffer_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => PrefixHasher.ComputeKeys(Small, TenantSalt.None, new int[12], new ChunkKey[2]));
        Assert.Contains("3 chunks", ex.Message, StringComparison.Ordinal);
    }

    private static string[] Hex(ChunkKey[] keys) => [.. keys.Select(k => k.ToString())];

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TierKv.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Could not find the repository root (TierKv.slnx) above " + AppContext.BaseDirectory);
    }

    private static string FindCli()
    {
        string root = RepoRoot();
        foreach (var config in new[] { "Release", "Debug" })
        {
            string p = Path.Combine(root, "src", "TierKv.Cli", "bin", config, "net10.0", "tierkv.dll");
            if (File.Exists(p))
            {
                return p;
            }
        }

        var build = Run("dotnet", $"build \"{Path.Combine(root, "src", "TierKv.Cli")}\" -c Release -v q");
        Assert.True(build.Code == 0, build.Out);
        return Path.Combine(root, "src", "TierKv.Cli", "bin", "Release", "net10.0", "tierkv.dll");
    }

    private static (int Code, string Out) Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string o = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o + err.Result);
    }
}

public class Xxh3PairTests
{
    [Fact]
    public void Inline_pair_hash_equals_the_library_on_random_inputs()
    {
        CsCheck.Gen.Select(CsCheck.Gen.ULong, CsCheck.Gen.ULong, CsCheck.Gen.ULong, CsCheck.Gen.ULong).Sample(t =>
        {
            var a = new UInt128(t.Item1, t.Item2);
            var b = new UInt128(t.Item3, t.Item4);
            Span<byte> buf = stackalloc byte[32];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(buf, a);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(buf[16..], b);
            Assert.Equal(System.IO.Hashing.XxHash128.HashToUInt128(buf), TierKv.Keys.Xxh3Pair.Hash(a, b));
        }, iter: 5000);
    }
}

public class ParallelHashingTests
{
    [Fact]
    public void Long_prompts_hashed_on_several_cores_give_the_single_threaded_keys()
    {
        var layout = new KvLayout("test/par", 1, 1, 8, KvElementType.Float16, tokensPerChunk: 16);
        CsCheck.Gen.Int[PrefixHasher.ParallelThreshold * 16, PrefixHasher.ParallelThreshold * 16 * 3].Sample(len =>
        {
            var tokens = Enumerable.Range(0, len).Select(i => (i * 7919) ^ len).ToArray();
            var a = new ChunkKey[len / 16];
            var b = new ChunkKey[len / 16];
            PrefixHasher.ComputeKeys(layout, TenantSalt.FromString("t"), tokens, a);
            PrefixHasher.ComputeKeysSingleThreaded(layout, TenantSalt.FromString("t"), tokens, b);
            Assert.Equal(b, a);
        }, iter: 30);
    }
}
