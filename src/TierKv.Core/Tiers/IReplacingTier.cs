namespace TierKv.Tiers;

/// <summary>
/// A tier that keeps no versions (the remote cluster) but can replace a value in one step. The store uses it for
/// versioned values (the server's <c>SET</c>, docs/core.md "Versions"), where the newer value must replace the one
/// held; <see cref="IKvTier.WriteAsync"/> keeps the first copy of a content-addressed chunk.
/// </summary>
public interface IReplacingTier
{
    /// <summary>Stores <paramref name="payload"/> under <paramref name="key"/>, replacing any value held; readers see the old or the new value.</summary>
    ValueTask<TierWriteStatus> ReplaceAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);
}
