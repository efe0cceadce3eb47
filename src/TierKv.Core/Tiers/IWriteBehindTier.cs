using TierKv.Keys;

namespace TierKv.Tiers;

/// <summary>
/// A slower tier that can accept a chunk without making its caller wait for the medium: the payload is copied at once
/// into the tier's own bounded staging memory and written in the background. The tiered store uses it for DRAM
/// write-back (an evicted chunk's bytes are valid only during the eviction callback) and write-through.
/// </summary>
public interface IWriteBehindTier : IKvTier
{
    /// <summary>
    /// Copies <paramref name="payload"/> and starts writing it; the chunk becomes visible when the write completes.
    /// Never blocks on I/O: when the tier's queue is full it answers <see cref="TierWriteStatus.NotAdmitted"/>
    /// (the chunk is shed and counted). I/O trouble is a status, never an exception.
    /// </summary>
    TierWriteStatus TryWriteBehind(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload);

    /// <summary>Completes when every write started so far has finished (visible or failed).</summary>
    Task DrainAsync(CancellationToken cancellationToken = default);
}
