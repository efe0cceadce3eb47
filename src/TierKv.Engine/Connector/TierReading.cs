namespace TierKv.Engine.Connector;

/// <summary>One measured movement of KV: <paramref name="Bytes"/> from <paramref name="Tier"/> in <paramref name="Seconds"/>.</summary>
/// <param name="Tier">Tier name (the DRAM tier's name for the scatter into pages).</param>
/// <param name="Bytes">Bytes moved.</param>
/// <param name="Seconds">Wall time.</param>
public readonly record struct TierReading(string Tier, long Bytes, double Seconds);
