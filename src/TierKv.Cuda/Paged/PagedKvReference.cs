namespace TierKv.Cuda.Paged;

/// <summary>
/// The CPU implementation of gather and scatter: the specification the GPU kernels are tested against, and a working
/// path on machines without a GPU. The paged side is one layer tensor, or all layers' tensors back to back (layer l at
/// l * <see cref="PagedKvGeometry.LayerTensorBytes"/>); the chunk side is whole chunks back to back, or one address
/// per chunk (chunks in arbitrary pool slots).
/// </summary>
public static unsafe class PagedKvReference
{
    /// <summary>Copies the request's pages (all layers) into <paramref name="chunks"/>.</summary>
    public static void Gather(PagedKvGeometry geometry, ReadOnlySpan<byte> paged, ReadOnlySpan<int> pageTable, Span<byte> chunks)
    {
        CheckPaged(geometry, paged.Length);
        for (int layer = 0; layer < geometry.Layers; layer++)
        {
            GatherLayer(geometry, layer, paged.Slice((int)(layer * geometry.LayerTensorBytes), (int)geometry.LayerTensorBytes), pageTable, chunks);
        }
    }

    /// <summary>Copies <paramref name="chunks"/> into the request's pages (all layers).</summary>
    public static void Scatter(PagedKvGeometry geometry, ReadOnlySpan<byte> chunks, ReadOnlySpan<int> pageTable, Span<byte> paged)
    {
        CheckPaged(geometry, paged.Length);
        for (int layer = 0; layer < geometry.Layers; layer++)
        {
            ScatterLayer(geometry, layer, chunks, pageTable, paged.Slice((int)(layer * geometry.LayerTensorBytes), (int)geometry.LayerTensorBytes));
        }
    }

    /// <summary>Gathers layer <paramref name="layer"/> from its paged tensor into chunks stored back to back.</summary>
    public static void GatherLayer(PagedKvGeometry geometry, int layer, ReadOnlySpan<byte> layerTensor, ReadOnlySpan<int> pageTable, Span<byte> chunks)
    {
        fixed (byte* c = chunks)
        {
            GatherLayer(geometry, layer, layerTensor, pageTable, ChunkAddresses(geometry, (nint)c, chunks.Length));
        }
    }

    /// <summary>Scatters layer <paramref name="layer"/> from chunks stored back to back into its paged tensor.</summary>
    public static void ScatterLayer(PagedKvGeometry geometry, int layer, ReadOnlySpan<byte> chunks, ReadOnlySpan<int> pageTable, Span<byte> layerTensor)
    {
        fixed (byte* c = chunks)
        {
            ScatterLayer(geometry, layer, ChunkAddresses(geometry, (nint)c, chunks.Length), pageTable, layerTensor);
        }
    }

    /// <summary>Gathers layer <paramref name="layer"/> into chunks at <paramref name="chunkAddresses"/> (each ChunkBytes long, caller-owned).</summary>
    public static void GatherLayer(PagedKvGeometry geometry, int layer, ReadOnlySpan<byte> layerTensor, ReadOnlySpan<int> pageTable, ReadOnlySpan<nint> chunkAddresses)
    {
        Check(geometry, layer, layerTensor.Length, pageTable, chunkAddresses);
        fixed (byte* tensor = layerTensor)
        {
            MovePages(geometry, layer, tensor, pageTable, chunkAddresses, gather: true);
        }
    }

    /// <summary>Scatters layer <paramref name="layer"/> from chunks at <paramref name="chunkAddresses"/> into its paged tensor.</summary>
    public static void ScatterLayer(PagedKvGeometry geometry, int layer, ReadOnlySpan<nint> chunkAddresses, ReadOnlySpan<int> pageTable, Span<byte> layerTensor)
    {
        Check(geometry, layer, layerTensor.Length, pageTable, chunkAddresses);
        fixed (byte* tensor = layerTensor)
        {
            MovePages(geometry, layer, tensor, pageTable, chunkAddresses, gather: false);
        }
    }

    // Page by page, K then V: the page at its page-table slot of the layer tensor, and its place in its chunk; copied
    // from the tensor to the chunk (gather) or back (scatter). The caller checked the arguments.
    private static void MovePages(PagedKvGeometry geometry, int layer, byte* tensor, ReadOnlySpan<int> pageTable, ReadOnlySpan<nint> chunkAddresses, bool gather)
    {
        int page = checked((int)geometry.PageBytes);
        for (int q = 0; q < pageTable.Length; q++)
        {
            int c = q / geometry.PagesPerChunk;
            int p = q - (c * geometry.PagesPerChunk);
            for (int kv = 0; kv < 2; kv++)
            {
                var paged = new Span<byte>(tensor + geometry.PagedOffset(pageTable[q], kv), page);
                var chunk = new Span<byte>((byte*)chunkAddresses[c] + geometry.ChunkOffset(layer, kv, p), page);
                (gather ? paged : chunk).CopyTo(gather ? chunk : paged);
            }
        }
    }

    private static nint[] ChunkAddresses(PagedKvGeometry geometry, nint start, int length)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        if (length == 0 || length % geometry.Chunk.ChunkBytes != 0)
        {
            throw new ArgumentException($"The chunk buffer has {length} bytes, not a positive multiple of the chunk size {geometry.Chunk.ChunkBytes}.", "chunks");
        }

        var addresses = new nint[length / geometry.Chunk.ChunkBytes];
        for (int c = 0; c < addresses.Length; c++)
        {
            addresses[c] = start + ((nint)c * geometry.Chunk.ChunkBytes);
        }

        return addresses;
    }

    private static void CheckPaged(PagedKvGeometry geometry, long pagedBytes)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        if (pagedBytes != geometry.Layers * geometry.LayerTensorBytes)
        {
            throw new ArgumentException($"The paged buffer has {pagedBytes} bytes; {geometry.Layers} layer tensors of {geometry.LayerTensorBytes} need {geometry.Layers * geometry.LayerTensorBytes}.", "paged");
        }
    }

    private static void Check(PagedKvGeometry geometry, int layer, long layerBytes, ReadOnlySpan<int> pageTable, ReadOnlySpan<nint> chunkAddresses)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        if ((uint)layer >= (uint)geometry.Layers)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"The layer must be in [0, {geometry.Layers}).");
        }

        if (layerBytes != geometry.LayerTensorBytes)
        {
            throw new ArgumentException($"A layer tensor has {geometry.LayerTensorBytes} bytes; got {layerBytes}.", "layerTensor");
        }

        for (int c = 0; c < chunkAddresses.Length; c++)
        {
            if (chunkAddresses[c] == 0)
            {
                throw new ArgumentException($"Chunk {c}'s address is null.", nameof(chunkAddresses));
            }
        }

        geometry.ValidatePageTable(pageTable, chunkAddresses.Length);
    }
}
