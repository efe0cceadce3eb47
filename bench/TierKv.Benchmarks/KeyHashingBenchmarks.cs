using System.IO.Hashing;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using TierKv.Keys;

namespace TierKv.Benchmarks;

/// <summary>
/// Chunk-key hashing of a prompt (llama3-8b layout, 256 tokens per chunk) against one XXH3-128 call over the same
/// token bytes: the ratio is what chaining (one extra 32-byte hash per chunk) and the per-chunk calls cost over the
/// raw hash speed. <see cref="PrefixHasher.ComputeKeys(KvLayout, TenantSalt, ReadOnlySpan{int}, Span{ChunkKey})"/>
/// hashes on several cores from <see cref="PrefixHasher.ParallelThreshold"/> chunks (16384 tokens) on; 131072 tokens
/// (512 chunks) shows whether that pays off at a longer prompt.
/// </summary>
[MemoryDiagnoser]
public class KeyHashingBenchmarks
{
    private static readonly KvLayout Layout = ModelShapes.Llama3_8B.Layout;
    private int[] _tokens = [];
    private ChunkKey[] _keys = [];

    /// <summary>Prompt length in tokens (a whole number of chunks).</summary>
    [Params(4096, 16384, 131072)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _tokens = new int[Tokens];
        for (int i = 0; i < _tokens.Length; i++)
        {
            _tokens[i] = rng.Next(0, 128_256);
        }

        _keys = new ChunkKey[PrefixHasher.FullChunks(Layout, Tokens)];
    }

    [Benchmark(Baseline = true, Description = "XxHash128 one call")]
    public UInt128 RawXxHash128() => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(_tokens.AsSpan()));

    [Benchmark]
    public int ComputeKeysSingleThreaded() => PrefixHasher.ComputeKeysSingleThreaded(Layout, TenantSalt.None, _tokens, _keys);

    [Benchmark]
    public int ComputeKeys() => PrefixHasher.ComputeKeys(Layout, TenantSalt.None, _tokens, _keys);

    /// <summary>Both key paths give the documented chain for this prompt.</summary>
    internal void Check()
    {
        Setup();
        int n = Tokens / Layout.TokensPerChunk;
        Require.Equal(n, ComputeKeysSingleThreaded(), "chunks hashed single-threaded");
        var single = _keys.ToArray();
        Array.Clear(_keys);
        Require.Equal(n, ComputeKeys(), "chunks hashed");
        Require.True(single.AsSpan().SequenceEqual(_keys), "ComputeKeys and ComputeKeysSingleThreaded agree");
        var parent = PrefixHasher.Root(Layout, TenantSalt.None);
        for (int i = 0; i < n; i++)
        {
            parent = PrefixHasher.Next(parent, _tokens.AsSpan(i * Layout.TokensPerChunk, Layout.TokensPerChunk));
            Require.True(parent == _keys[i], $"key {i} follows the chain");
        }

        Require.True(RawXxHash128() != 0, "the baseline hashes the bytes");
        Allocations.RequireNone(ComputeKeysSingleThreaded, "ComputeKeysSingleThreaded");
        if (n < PrefixHasher.ParallelThreshold)
        {
            Allocations.RequireNone(ComputeKeys, "ComputeKeys below the parallel threshold");
        }
    }
}
