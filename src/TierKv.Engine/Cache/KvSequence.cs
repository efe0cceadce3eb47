namespace TierKv.Engine.Cache;

/// <summary>
/// One request's KV: a page table into a <see cref="KvPagePool"/> and the number of positions whose K and V are
/// written. Chunk payloads for TierKV are layer-major: layer 0's blocks of the chunk's pages in order, then layer 1,
/// so a loader can hand a layer to the engine as soon as its bytes are in place.
/// </summary>
public sealed unsafe class KvSequence : IDisposable
{
    private readonly List<int> _pages = [];

    /// <summary>Creates an empty sequence over <paramref name="pool"/>.</summary>
    public KvSequence(KvPagePool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        Pool = pool;
    }

    /// <summary>The page pool.</summary>
    public KvPagePool Pool { get; }

    /// <summary>Positions whose K and V are written.</summary>
    public int Length { get; internal set; }

    /// <summary>Positions the held pages can hold.</summary>
    public int CapacityTokens => _pages.Count * KvPagePool.PageTokens;

    /// <summary>Page of position <paramref name="position"/>.</summary>
    public int PageOf(int position) => _pages[position / KvPagePool.PageTokens];

    /// <summary>Makes room for <paramref name="tokens"/> positions.</summary>
    public void EnsureCapacity(int tokens)
    {
        while (CapacityTokens < tokens)
        {
            _pages.Add(Pool.Rent());
        }
    }

    /// <summary>
    /// Marks the first <paramref name="tokens"/> positions as holding valid KV (after a connector filled them).
    /// </summary>
    public void SetLength(int tokens)
    {
        if (tokens < 0 || tokens > CapacityTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"The sequence holds pages for {CapacityTokens} positions.");
        }

        Length = tokens;
    }

    /// <summary>Bytes of one layer of a chunk of <paramref name="tokensPerChunk"/> tokens.</summary>
    public int ChunkLayerBytes(int tokensPerChunk) => tokensPerChunk / KvPagePool.PageTokens * Pool.LayerPageBytes;

    /// <summary>Copies layer <paramref name="layer"/> of the chunk starting at position <paramref name="firstToken"/> out of the pages.</summary>
    public void CopyChunkLayerOut(int firstToken, int tokensPerChunk, int layer, Span<byte> destination)
    {
        int pages = tokensPerChunk / KvPagePool.PageTokens;
        int pb = Pool.LayerPageBytes;
        if (destination.Length < pages * pb)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; a chunk layer needs {pages * pb}.", nameof(destination));
        }

        int firstPage = firstToken / KvPagePool.PageTokens;
        for (int p = 0; p < pages; p++)
        {
            new ReadOnlySpan<byte>(Pool.LayerPage(_pages[firstPage + p], layer), pb).CopyTo(destination.Slice(p * pb, pb));
        }
    }

    /// <summary>Copies layer <paramref name="layer"/> of a chunk into the pages of positions from <paramref name="firstToken"/>.</summary>
    public void CopyChunkLayerIn(int firstToken, int tokensPerChunk, int layer, ReadOnlySpan<byte> source)
    {
        int pages = tokensPerChunk / KvPagePool.PageTokens;
        int pb = Pool.LayerPageBytes;
        if (source.Length < pages * pb)
        {
            throw new ArgumentException($"The source holds {source.Length} bytes; a chunk layer needs {pages * pb}.", nameof(source));
        }

        EnsureCapacity(firstToken + tokensPerChunk);
        int firstPage = firstToken / KvPagePool.PageTokens;
        for (int p = 0; p < pages; p++)
        {
            source.Slice(p * pb, pb).CopyTo(new Span<byte>(Pool.LayerPage(_pages[firstPage + p], layer), pb));
        }
    }

    /// <summary>Returns the pages to the pool.</summary>
    public void Dispose()
    {
        foreach (int p in _pages)
        {
            Pool.Return(p);
        }

        _pages.Clear();
        Length = 0;
    }
}
