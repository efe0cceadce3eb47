namespace TierKv.Analysis.Simulation;

/// <summary>A policy's worst hit ratio against the better simple policy over a sweep, and the capacity where it happens.</summary>
/// <param name="Delta">Hit ratio minus the better of <c>lru</c> and <c>lru-prefix</c> (negative: below them).</param>
/// <param name="Capacity">Capacity in blocks.</param>
public sealed record SweepShortfall(double Delta, int Capacity);
