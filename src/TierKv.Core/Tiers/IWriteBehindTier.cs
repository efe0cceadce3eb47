
namespace TierKv.Tiers;

/// <summary>
/// A slower tier that can accept a chunk without making its caller wait for the medium: the payload is copied at once
/// into the tier's own bounded staging memory and written in the background. The tiered store uses it for DRAM
/// write-back (an evicted chunk's bytes are valid only during the eviction callback) and write-through.
/// </summary>
/// <remarks>
/// <para>
/// Versions (docs/core.md, "Versions"): a chunk written with a version above 0 replaces an older version of the same
/// key, and is refused (<see cref="TierWriteStatus.AlreadyPresent"/>) when the tier holds that version or a newer one.
/// Version 0 means content-addressed (equal keys, equal bytes): any held copy wins. A write that returns
/// <see cref="TierWriteStatus.Stored"/> is visible at once: a read that comes while it is still being written waits
/// for it, so a newer version never disappears behind an older one while it travels to the medium.
/// </para>
/// <para>
/// The queue is bounded. A caller that would rather wait for room than shed (back-pressure, see
/// <c>TieredStoreOptions.WriteBackOverflow</c>) first reserves room with <see cref="ReserveWriteBehindAsync"/> or
/// <see cref="ReserveWriteBehind"/>, then spends the reservation on exactly one <see cref="WriteBehindReserved"/> or
/// gives it back with <see cref="ReleaseWriteBehindReservation"/>. A reservation is one unit of room, not tied to a
/// key or a thread.
/// </para>
/// </remarks>
public interface IWriteBehindTier : IKvTier
{
    /// <summary>
    /// Copies <paramref name="payload"/> and starts writing it. Never blocks on I/O: when the tier's queue is full it
    /// answers <see cref="TierWriteStatus.NotAdmitted"/> (the chunk is shed and counted). I/O trouble is a status,
    /// never an exception.
    /// </summary>
    TierWriteStatus TryWriteBehind(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version = 0);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> (<see cref="TimeSpan.Zero"/>: not at all) for room for one chunk in the
    /// write-behind queue and holds it for the caller. True when room is held; false when the time ran out.
    /// Throws <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires first (nothing is
    /// held then).
    /// </summary>
    ValueTask<bool> ReserveWriteBehindAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>
    /// Synchronous <see cref="ReserveWriteBehindAsync"/>: blocks the calling thread up to <paramref name="timeout"/>.
    /// The tier's writes complete on its own threads, so a blocked caller never stops the room it waits for from
    /// appearing.
    /// </summary>
    bool ReserveWriteBehind(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="TryWriteBehind"/> with room the caller already holds: it never sheds for a full queue. The
    /// reservation is spent whatever the outcome (stored, already present, no space, failed, or an exception).
    /// </summary>
    TierWriteStatus WriteBehindReserved(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version = 0);

    /// <summary>Gives back room held by a reservation that will not be used.</summary>
    void ReleaseWriteBehindReservation();

    /// <summary>The version of the copy of <paramref name="key"/> the tier holds (visible, or being written); false when none.</summary>
    bool TryGetVersion(in ChunkKey key, out long version);

    /// <summary>The highest version the tier holds or has held since it opened (recovered from the medium at open).</summary>
    long MaxVersion { get; }

    /// <summary>Chunks accepted (and visible) whose write to the medium has not completed yet.</summary>
    int WritesInFlight { get; }

    /// <summary>Completes when every write started so far has finished (visible or failed).</summary>
    Task DrainAsync(CancellationToken cancellationToken = default);
}
