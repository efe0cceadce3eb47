using TierKv.Keys;

namespace TierKv.Cuda.Paged;

/// <summary>
/// How an engine's paged KV memory and TierKV's chunks line up. Paged side (vLLM), one tensor per layer:
/// <c>[2, num_blocks, block_size, num_kv_heads, head_dim]</c>. Chunk side (<see cref="KvLayout"/>), layer-major:
/// <c>[layers, 2, tokens_per_chunk, num_kv_heads, head_dim]</c>. A page (one block of K or of V of one layer) is
/// contiguous on both sides, so gather and scatter are copies of whole pages.
/// </summary>
public sealed record PagedKvGeometry
{
    /// <summary>Creates and validates the geometry.</summary>
    /// <param name="chunk">The chunk layout (layers, heads, head dim, element type, tokens per chunk).</param>
    /// <param name="blockSize">Tokens per engine page (vLLM uses 16 or 32); must divide the chunk's tokens.</param>
    /// <param name="numBlocks">Pages per layer in the engine's pool.</param>
    public PagedKvGeometry(KvLayout chunk, int blockSize, int numBlocks)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (blockSize <= 0 || chunk.TokensPerChunk % blockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"The block size must be positive and divide the chunk's {chunk.TokensPerChunk} tokens.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        Chunk = chunk;
        BlockSize = blockSize;
        NumBlocks = numBlocks;
        PageBytes = (long)blockSize * chunk.KvHeads * chunk.HeadDim * KvElementTypes.SizeOf(chunk.ElementType);
        PagesPerChunk = chunk.TokensPerChunk / blockSize;
        LayerTensorBytes = 2 * NumBlocks * PageBytes;
    }

    /// <summary>The chunk layout.</summary>
    public KvLayout Chunk { get; }

    /// <summary>Tokens per engine page.</summary>
    public int BlockSize { get; }

    /// <summary>Pages per layer in the engine's pool.</summary>
    public int NumBlocks { get; }

    /// <summary>Layers.</summary>
    public int Layers => Chunk.Layers;

    /// <summary>Bytes of one page of K (or V) of one layer.</summary>
    public long PageBytes { get; }

    /// <summary>Pages per chunk.</summary>
    public int PagesPerChunk { get; }

    /// <summary>Bytes of one layer's paged tensor (K and V halves).</summary>
    public long LayerTensorBytes { get; }

    /// <summary>Bytes from a layer tensor's K half to its V half.</summary>
    public long PagedKvStride => NumBlocks * PageBytes;

    /// <summary>Bytes of one layer inside a chunk (K and V).</summary>
    public long ChunkLayerBytes => Chunk.LayerBytesPerChunk;

    /// <summary>Bytes from a chunk layer's K part to its V part.</summary>
    public long ChunkKvStride => Chunk.LayerBytesPerChunk / 2;

    /// <summary>Offset in a layer tensor of page <paramref name="block"/>, half <paramref name="kv"/> (0 = K, 1 = V).</summary>
    public long PagedOffset(int block, int kv) => (kv * PagedKvStride) + (block * PageBytes);

    /// <summary>Offset in a chunk of layer <paramref name="layer"/>, half <paramref name="kv"/>, page <paramref name="pageInChunk"/>.</summary>
    public long ChunkOffset(int layer, int kv, int pageInChunk) => (layer * ChunkLayerBytes) + (kv * ChunkKvStride) + (pageInChunk * PageBytes);

    /// <summary>
    /// Checks a request's page table: one entry per page of <paramref name="chunks"/> whole chunks, each a block in
    /// [0, NumBlocks), no block twice (a scatter would race). Throws naming the first bad entry.
    /// </summary>
    public void ValidatePageTable(ReadOnlySpan<int> pageTable, int chunks)
    {
        if (chunks <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(chunks), chunks, "A transfer moves at least one chunk.");
        }

        if (pageTable.Length != (long)chunks * PagesPerChunk)
        {
            throw new ArgumentException($"The page table has {pageTable.Length} entries but {chunks} chunks of {PagesPerChunk} pages need {(long)chunks * PagesPerChunk}.", nameof(pageTable));
        }

        ulong[] seen = System.Buffers.ArrayPool<ulong>.Shared.Rent((NumBlocks + 63) / 64);
        try
        {
            Array.Clear(seen, 0, (NumBlocks + 63) / 64);
            for (int i = 0; i < pageTable.Length; i++)
            {
                int b = pageTable[i];
                if ((uint)b >= (uint)NumBlocks)
                {
                    throw new ArgumentOutOfRangeException(nameof(pageTable), b, $"Page table entry {i} is block {b}, outside [0, {NumBlocks}).");
                }

                ulong bit = 1UL << (b & 63);
                if ((seen[b >> 6] & bit) != 0)
                {
                    throw new ArgumentException($"Page table entry {i} repeats block {b}; a request's pages must be distinct.", nameof(pageTable));
                }

                seen[b >> 6] |= bit;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(seen);
        }
    }
}
