
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
    /// <param name="layout">The chunk's layout.</param>
    /// <param name="key">The chunk's key.</param>
    /// <param name="parent">The key of the chunk before it in its prefix, if any.</param>
    /// <param name="payload">The chunk's bytes, valid only during the call.</param>
    /// <param name="version">The chunk's version.</param>
    /// <param name="roomHeld">
    /// True when the evicting writer reserved room in the tier below for this hand-over (passed down explicitly through
    /// <see cref="HostMemoryTier.Write(KvLayout, in ChunkKey, ChunkKey?, ReadOnlySpan{byte}, ref bool)"/>): a sink that
    /// spends it sets it to false; room left unspent goes back with the writer.
    /// </param>
    void OnEvicting(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version, ref bool roomHeld);
}
