using System.IO.Hashing;
using TierKv.Keys;

namespace TierKv.Remote.Tests;

/// <summary>Small layouts, token sequences and deterministic payloads shared by the tests and the peer process.</summary>
internal static class TestData
{
    /// <summary>4 KiB chunks of 16 tokens: real code paths, little traffic.</summary>
    public static readonly KvLayout Layout = new("test/remote", 2, 2, 16, KvElementType.Float16, tokensPerChunk: 16);

    public static int[] Tokens(int chunks, int seed = 1)
    {
        var t = new int[chunks * Layout.TokensPerChunk];
        for (int i = 0; i < t.Length; i++)
        {
            t[i] = (int)(((uint)(i + seed) * 2654435761u) % 128256);
        }

        return t;
    }

    /// <summary>Payload of <paramref name="chunks"/> chunks, chunk after chunk; deterministic per seed.</summary>
    public static byte[] Payload(int chunks, int seed = 1)
    {
        var b = new byte[chunks * Layout.ChunkBytes];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static string Hash(ReadOnlySpan<byte> bytes) => XxHash64.HashToUInt64(bytes).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    public static RemoteTierOptions Options(IReadOnlyList<string> endpoints, string prefix) => new()
    {
        Endpoints = endpoints,
        KeyPrefix = prefix,
        ConnectTimeout = TimeSpan.FromSeconds(3),
        LookupTimeout = TimeSpan.FromMilliseconds(100),
        Retries = 1,
        LookupBudget = TimeSpan.FromMilliseconds(250),
        ValueTimeout = TimeSpan.FromSeconds(1),
        BreakDuration = TimeSpan.FromMilliseconds(500),
        BreakerSamplingDuration = TimeSpan.FromSeconds(1),
        BulkConnections = 1,
    };

    public static string UniquePrefix(string test) => $"tierkv-test-{test}-{Guid.NewGuid():N}"[..48];
}
