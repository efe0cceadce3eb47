using TierKv.Keys;

namespace TierKv.Tiers;

/// <summary>
/// Receives a chunk that a tier is about to give up, while its bytes are still intact (write-back to the next tier).
/// Called on the evicting writer's thread, outside the tier's lock, while the chunk is still visible in the tier (it
/// leaves only after the call returns, so a reader never finds it in neither tier); the payload span is valid only
/// during the call.
/// </summary>
public interface IEvictionSink
{
    /// <summary>The chunk <paramref name="key"/>, at <paramref name="version"/> (0: content-addressed), is leaving the tier.</summary>
    void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version);
}
