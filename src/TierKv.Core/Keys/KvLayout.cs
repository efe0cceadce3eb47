using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace TierKv.Keys;

/// <summary>
/// The shape of a model's KV cache as stored by TierKV. Its <see cref="Fingerprint"/> enters every chunk key, so a
/// chunk stored for one model or layout can never be served to another. The byte encoding is specified in
/// <c>docs/hashing.md</c>.
/// </summary>
public sealed record KvLayout
{
    /// <summary>Tokens per chunk unless a layout says otherwise.</summary>
    public const int DefaultTokensPerChunk = 256;

    /// <summary>Domain-separation prefix of the layout encoding (16 ASCII bytes).</summary>
    internal static ReadOnlySpan<byte> EncodingTag => "TierKV/layout/v1"u8;

    /// <summary>Creates and validates a layout.</summary>
    public KvLayout(
        string modelId,
        int layers,
        int kvHeads,
        int headDim,
        KvElementType elementType,
        int tokensPerChunk = DefaultTokensPerChunk,
        int tensorParallelRank = 0,
        int tensorParallelSize = 1,
        int frameBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        if (modelId.Length == 0 || Encoding.UTF8.GetByteCount(modelId) > 1024)
        {
            throw new ArgumentException("The model id must be 1 to 1024 UTF-8 bytes.", nameof(modelId));
        }

        Positive(layers, nameof(layers), 4096);
        Positive(kvHeads, nameof(kvHeads), 4096);
        Positive(headDim, nameof(headDim), 65536);
        Positive(tokensPerChunk, nameof(tokensPerChunk), 1 << 20);
        Positive(tensorParallelSize, nameof(tensorParallelSize), 4096);
        if (tensorParallelRank < 0 || tensorParallelRank >= tensorParallelSize)
        {
            throw new ArgumentOutOfRangeException(nameof(tensorParallelRank), tensorParallelRank, $"The tensor-parallel rank must be in [0, {tensorParallelSize}).");
        }

        _ = KvElementTypes.SizeOf(elementType);
        if (frameBytes < 0 || frameBytes > 1 << 30)
        {
            throw new ArgumentOutOfRangeException(nameof(frameBytes), frameBytes, "The frame bytes of a chunk must be in [0, 2^30].");
        }

        long kv = 2L * layers * kvHeads * headDim * KvElementTypes.SizeOf(elementType) * tokensPerChunk;
        long chunk = kv + frameBytes;
        if (chunk > int.MaxValue)
        {
            throw new ArgumentException($"A chunk of this layout would be {chunk} bytes; TierKV chunks are limited to 2 GiB: use fewer tokens per chunk.");
        }

        ModelId = modelId;
        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        ElementType = elementType;
        TokensPerChunk = tokensPerChunk;
        TensorParallelRank = tensorParallelRank;
        TensorParallelSize = tensorParallelSize;
        ChunkBytes = (int)chunk;
        KvBytesPerChunk = (int)kv;
        FrameBytes = frameBytes;
        Fingerprint = ComputeFingerprint();
    }

    /// <summary>Model identity, e.g. <c>meta-llama/Meta-Llama-3-8B</c>.</summary>
    public string ModelId { get; }

    /// <summary>Transformer layers.</summary>
    public int Layers { get; }

    /// <summary>KV heads per layer (of this tensor-parallel rank).</summary>
    public int KvHeads { get; }

    /// <summary>Head dimension.</summary>
    public int HeadDim { get; }

    /// <summary>Element type of K and V.</summary>
    public KvElementType ElementType { get; }

    /// <summary>Tokens per chunk.</summary>
    public int TokensPerChunk { get; }

    /// <summary>Tensor-parallel rank.</summary>
    public int TensorParallelRank { get; }

    /// <summary>Tensor-parallel size.</summary>
    public int TensorParallelSize { get; }

    /// <summary>
    /// Bytes of one chunk's payload: K and V, all layers, <see cref="TokensPerChunk"/> tokens, plus the
    /// <see cref="FrameBytes"/> an engine puts around them.
    /// </summary>
    public int ChunkBytes { get; }

    /// <summary>KV bytes of one chunk (<see cref="ChunkBytes"/> without the <see cref="FrameBytes"/>).</summary>
    public int KvBytesPerChunk { get; }

    /// <summary>
    /// Bytes of an engine's framing in each chunk's payload beside the KV (0 for TierKV's own engine; llama.cpp's chunks
    /// are complete per-sequence states, docs/llamacpp.md). Part of the fingerprint when not 0.
    /// </summary>
    public int FrameBytes { get; }

    /// <summary>KV bytes per token.</summary>
    public int BytesPerToken => KvBytesPerChunk / TokensPerChunk;

    /// <summary>XXH3-128 of the layout encoding.</summary>
    public ChunkKey Fingerprint { get; }

    /// <summary>Bytes of one layer of one chunk (K and V).</summary>
    public int LayerBytesPerChunk => KvBytesPerChunk / Layers;

    /// <summary>Writes the canonical encoding (see docs/hashing.md) and returns its length.</summary>
    public byte[] Encode()
    {
        int idLen = Encoding.UTF8.GetByteCount(ModelId);
        var buf = new byte[EncodingTag.Length + 4 + idLen + (7 * 4) + (FrameBytes != 0 ? 4 : 0)];
        var span = buf.AsSpan();
        EncodingTag.CopyTo(span);
        int o = EncodingTag.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(span[o..], (uint)idLen);
        o += 4;
        o += Encoding.UTF8.GetBytes(ModelId, span[o..]);
        foreach (int v in (ReadOnlySpan<int>)[Layers, KvHeads, HeadDim, (int)ElementType, TokensPerChunk, TensorParallelRank, TensorParallelSize])
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[o..], (uint)v);
            o += 4;
        }

        if (FrameBytes != 0)
        {
            // Appended only when present, so every unframed layout keeps its fingerprint (docs/hashing.md).
            BinaryPrimitives.WriteUInt32LittleEndian(span[o..], (uint)FrameBytes);
        }

        return buf;
    }

    private ChunkKey ComputeFingerprint() => new(XxHash128.HashToUInt128(Encode()));

    /// <summary>Equality is by fingerprint inputs; two layouts with the same fields are the same layout.</summary>
    public bool Equals(KvLayout? other) => other is not null && Fingerprint == other.Fingerprint;

    /// <inheritdoc />
    public override int GetHashCode() => Fingerprint.GetHashCode();

    /// <inheritdoc />
    public override string ToString() =>
        $"{ModelId} L{Layers} H{KvHeads} D{HeadDim} {KvElementTypes.ShortName(ElementType)} {TokensPerChunk} tok/chunk tp {TensorParallelRank}/{TensorParallelSize} ({ChunkBytes} B/chunk{(FrameBytes != 0 ? $", {FrameBytes} of them frame" : "")})";

    private static void Positive(int value, string name, int max)
    {
        if (value <= 0 || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [1, {max}].");
        }
    }
}
