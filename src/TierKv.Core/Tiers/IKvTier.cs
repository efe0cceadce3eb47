
namespace TierKv.Tiers;

/// <summary>
/// The small contract every tier implements (ARCHITECTURE.md, "Tiers"): batched existence, read into a buffer,
/// write from a buffer, delete, capacity and usage. A chunk becomes visible only after its write completed; a
/// tier that fails answers <see cref="TierReadStatus.Failed"/> or <see cref="TierWriteStatus.Failed"/>, never an
/// exception for an I/O problem. Exceptions are for caller mistakes (wrong sizes), which nothing stores.
/// </summary>
public interface IKvTier : IDisposable
{
    /// <summary>Short name used in metrics and reports, e.g. <c>dram</c>, <c>ssd</c>.</summary>
    string Name { get; }

    /// <summary>The medium.</summary>
    TierKind Kind { get; }

    /// <summary>Capacity in bytes (payload bytes the tier can hold).</summary>
    long CapacityBytes { get; }

    /// <summary>Payload bytes held now.</summary>
    long UsedBytes { get; }

    /// <summary>Chunks held now.</summary>
    long ChunkCount { get; }

    /// <summary>True when <see cref="Contains"/> answers from local memory without I/O (DRAM, SSD index).</summary>
    bool HasLocalIndex { get; }

    /// <summary>Whether the tier holds <paramref name="key"/>, from its local index. Tiers without one return false.</summary>
    bool Contains(in ChunkKey key);

    /// <summary>
    /// Batched existence: sets <paramref name="present"/>[i] for each key. Remote tiers answer in one round trip
    /// per node. Never throws for a failing medium: absent keys are reported as false.
    /// </summary>
    ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default);

    /// <summary>Copies the payload of <paramref name="key"/> into <paramref name="destination"/> (exactly the layout's chunk size).</summary>
    ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores <paramref name="payload"/> (exactly the layout's chunk size) under <paramref name="key"/>.
    /// <paramref name="parent"/> is the key of the previous chunk of the same prefix, or null for a first chunk;
    /// prefix-aware eviction uses it.
    /// </summary>
    ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>Deletes a chunk; returns whether it was held. A failing medium answers false.</summary>
    ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default);
}
