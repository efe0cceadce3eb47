namespace TierKv.Tracing;

/// <summary>One lookup of an access trace, without its keys (see <see cref="AccessTraceReader"/>).</summary>
/// <param name="TimeMicros">Microseconds from the start of the trace.</param>
/// <param name="Tenant">Tenant number.</param>
/// <param name="Tokens">Tokens looked up.</param>
/// <param name="KeyCount">Chunk keys of the request.</param>
public readonly record struct AccessTraceRecord(long TimeMicros, int Tenant, int Tokens, int KeyCount);
