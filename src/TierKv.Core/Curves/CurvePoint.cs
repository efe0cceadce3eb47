namespace TierKv.Curves;

/// <summary>One point of a live miss-ratio curve: the hit ratio <paramref name="Policy"/> would have at <paramref name="Capacity"/> slots.</summary>
/// <param name="Policy">Eviction policy name.</param>
/// <param name="Capacity">Size in slots (chunks).</param>
/// <param name="Multiple">The size as a multiple of the tier's capacity.</param>
/// <param name="HitRatio">Estimated prefix-hit blocks over all blocks accessed (docs/analysis.md); 0 before any access.</param>
public readonly record struct CurvePoint(string Policy, long Capacity, double Multiple, double HitRatio);
