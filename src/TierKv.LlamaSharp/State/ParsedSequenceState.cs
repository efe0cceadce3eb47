namespace TierKv.LlamaSharp.State;

/// <summary>
/// Where the parts of one sequence state blob lie, as <see cref="SequenceStateCodec.TryParse"/> found them: the number of
/// cells (tokens, positions 0..n-1), whether V is transposed, and the offset of each layer's K and V data.
/// </summary>
public sealed class ParsedSequenceState
{
    internal ParsedSequenceState(int tokens, bool vTransposed, long[] kData, long[] vData)
    {
        Tokens = tokens;
        VTransposed = vTransposed;
        KData = kData;
        VData = vData;
    }

    /// <summary>Cells in the blob: the sequence's tokens at positions 0..Tokens-1.</summary>
    public int Tokens { get; }

    /// <summary>Whether V is stored transposed (llama.cpp without flash attention).</summary>
    public bool VTransposed { get; }

    /// <summary>Offset of layer l's K rows (Tokens × row bytes).</summary>
    public IReadOnlyList<long> KData { get; }

    /// <summary>Offset of layer l's V data (rows, or Tokens elements per V channel when transposed).</summary>
    public IReadOnlyList<long> VData { get; }
}
