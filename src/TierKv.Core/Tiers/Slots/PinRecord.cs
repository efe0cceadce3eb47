namespace TierKv.Tiers.Slots;

/// <summary>A live pin as recorded by the SSD tier: the chunk, its priority and the pin's deadline (Unix ms; <see cref="ChunkPriorities.Forever"/>: none).</summary>
public readonly record struct PinRecord(ChunkKey Key, byte Priority, long PinnedUntilMs);
