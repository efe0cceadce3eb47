using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using TierKv.Chunks;
using TierKv.Keys;

namespace TierKv.Benchmarks;

/// <summary>
/// Encoding and verifying one stored chunk of 2 MiB (llama3.2-1b's KV shape at 64 tokens per chunk; its 256-token
/// chunk is 8 MiB and llama3-8b's 32 MiB, which only scale the same per-byte costs). Two groups, each with its own
/// baseline: <c>Encode</c> (checksum + copy) against a plain copy of the payload, <c>Verify</c> (header checks +
/// checksum) against XXH3-64 of the payload alone.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ChunkCodecBenchmarks
{
    /// <summary>The layout whose chunks are measured: 2 MiB of payload.</summary>
    internal static readonly KvLayout Layout = new("meta-llama/Llama-3.2-1B", 16, 8, 64, KvElementType.BFloat16, tokensPerChunk: 64);

    private readonly ChunkKey _key = new(new UInt128(0x0123456789abcdefUL, 0xfedcba9876543210UL));
    private byte[] _payload = [];
    private byte[] _encoded = [];
    private byte[] _copy = [];

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[Layout.ChunkBytes];
        new Random(7).NextBytes(_payload);
        _encoded = new byte[ChunkCodec.EncodedLength(_payload.Length)];
        _copy = new byte[_payload.Length];
        ChunkCodec.Encode(Layout, _key, _payload, _encoded);
    }

    [Benchmark(Baseline = true, Description = "memcpy payload")]
    [BenchmarkCategory("Encode")]
    public int CopyPayload()
    {
        _payload.AsSpan().CopyTo(_copy);
        return _copy.Length;
    }

    [Benchmark]
    [BenchmarkCategory("Encode")]
    public int Encode() => ChunkCodec.Encode(Layout, _key, _payload, _encoded);

    [Benchmark(Baseline = true, Description = "XxHash3 payload")]
    [BenchmarkCategory("Verify")]
    public ulong ChecksumPayload() => XxHash3.HashToUInt64(_payload);

    [Benchmark]
    [BenchmarkCategory("Verify")]
    public ChunkDamage Verify() => ChunkCodec.Verify(_encoded, Layout, _key, out _);

    /// <summary>Encode writes a chunk that Verify accepts, and Verify really reads the payload.</summary>
    internal void Check()
    {
        Setup();
        Require.Equal(ChunkCodec.EncodedLength(Layout.ChunkBytes), Encode(), "encoded bytes");
        Require.Equal(ChunkDamage.None, Verify(), "verify of a fresh chunk");
        Require.Equal(2 * 1024 * 1024, CopyPayload(), "payload bytes");
        _encoded[^1] ^= 1;
        Require.Equal(ChunkDamage.BadChecksum, Verify(), "verify of a chunk with a flipped payload bit");
        _encoded[^1] ^= 1;
        Require.Equal(ChunkDamage.None, Verify(), "verify after restoring the bit");
        Allocations.RequireNone(Encode, "Encode into a caller buffer", 20);
        Allocations.RequireNone(Verify, "Verify", 20);
    }
}
