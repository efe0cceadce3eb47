using TierKv.Keys;

namespace TierKv.Server.Tests;

/// <summary>
/// What the allocation tests store and read: the 64 chunk keys of a Llama-3-8B prompt, the first chunk with a
/// 600 KB value (larger than a socket buffer) and the others with 4 KiB, and a destination for reads.
/// </summary>
internal sealed class AllocationWorkload
{
    public AllocationWorkload()
    {
        var layout = ModelShapes.Llama3_8B.Layout;
        var tokens = new int[64 * layout.TokensPerChunk];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = i;
        }

        Keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
    }

    public ChunkKey[] Keys { get; }

    public byte[] Small { get; } = new byte[4096];

    public byte[] Large { get; } = new byte[600_000];

    public byte[] Destination { get; } = new byte[1 << 20];

    /// <summary>The value stored for chunk <paramref name="i"/>.</summary>
    public byte[] ValueOf(int i) => i == 0 ? Large : Small;
}
