namespace TierKv.Analysis;

/// <summary>One sizing answer: the capacity that reaches <paramref name="Fraction"/> of the attainable hit ratio.</summary>
/// <param name="Fraction">Share of the attainable hit ratio aimed at.</param>
/// <param name="HitRatio">Hit ratio at that capacity.</param>
/// <param name="Blocks">Capacity in blocks.</param>
/// <param name="Tokens">Capacity in tokens.</param>
/// <param name="Bytes">Capacity in bytes of KV for the model shape.</param>
public sealed record SizingTarget(double Fraction, double HitRatio, int Blocks, long Tokens, long Bytes);
