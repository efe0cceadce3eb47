using TierKv.Tiers.Slots;

namespace TierKv.Store;

/// <summary>
/// A priority for the chunks of a request's first <see cref="Tokens"/> tokens (a system prompt, tool definitions):
/// the engine connectors give it to those chunks when they store a sequence. Only chunks wholly inside the prefix take
/// it; the chunk that straddles its end holds the request's own tokens too.
/// </summary>
/// <param name="Tokens">Leading tokens of the shared prefix.</param>
/// <param name="Priority">Their priority (<see cref="ChunkPriorities.High"/> is a sensible choice).</param>
public readonly record struct PrefixPriority(int Tokens, byte Priority = ChunkPriorities.High)
{
    /// <summary>How many leading chunks of <paramref name="layout"/> lie wholly inside the prefix, at most <paramref name="chunks"/>.</summary>
    public int Chunks(KvLayout layout, int chunks)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return Math.Clamp(Tokens / layout.TokensPerChunk, 0, chunks);
    }
}
