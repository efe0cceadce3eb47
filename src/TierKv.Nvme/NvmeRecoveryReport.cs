namespace TierKv.Nvme;

/// <summary>What an <see cref="NvmeTier"/> found in its files when it opened (warm restart).</summary>
/// <param name="ScannedSlots">Slots read.</param>
/// <param name="RecoveredChunks">Chunks that verified and are served again.</param>
/// <param name="DamagedSlots">Slots with a torn, partial or damaged chunk: dropped, never served.</param>
/// <param name="DuplicateSlots">Slots holding a chunk another slot also holds (e.g. overwritten with its bytes): dropped.</param>
/// <param name="Elapsed">Time the scan took.</param>
public sealed record NvmeRecoveryReport(int ScannedSlots, int RecoveredChunks, int DamagedSlots, int DuplicateSlots, TimeSpan Elapsed);
