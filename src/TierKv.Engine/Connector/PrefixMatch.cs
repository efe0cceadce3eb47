using TierKv.Keys;

namespace TierKv.Engine.Connector;

/// <summary>
/// The scheduler-side answer for one request: the chunk keys of its full chunks and how many leading tokens TierKV
/// can supply, with the tier (index into the store's tiers, fastest first) holding each hit chunk.
/// </summary>
public sealed class PrefixMatch(int promptTokens, ChunkKey[] keys, int hitChunks, int[] chunkTiers, int tokensPerChunk)
{
    /// <summary>Tokens of the request.</summary>
    public int PromptTokens { get; } = promptTokens;

    /// <summary>Keys of every full chunk of the request.</summary>
    public IReadOnlyList<ChunkKey> Keys { get; } = keys;

    /// <summary>Leading chunks held by some tier.</summary>
    public int HitChunks { get; } = hitChunks;

    /// <summary>Leading tokens TierKV can supply.</summary>
    public int HitTokens => HitChunks * TokensPerChunk;

    /// <summary>For each hit chunk, the index of the fastest tier holding it.</summary>
    public IReadOnlyList<int> ChunkTiers { get; } = chunkTiers;

    /// <summary>Tokens per chunk of the layout.</summary>
    public int TokensPerChunk { get; } = tokensPerChunk;

    internal ChunkKey[] KeyArray => (ChunkKey[])Keys;
}
