using System.Buffers;

namespace TierKv.Store;

/// <summary>Lookup: the longest run of leading chunks that the tiers hold.</summary>
public sealed partial class TieredStore
{
    /// <summary>
    /// The number of leading tokens of <paramref name="tokens"/> whose chunks are cached in a tier with a local index
    /// (hashes the tokens; engines that ask repeatedly should keep the keys and call the key overload).
    /// </summary>
    public int Lookup(KvLayout layout, TenantSalt salt, ReadOnlySpan<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = PrefixHasher.FullChunks(layout, tokens.Length);
        ChunkKey[]? rented = null;
        Span<ChunkKey> keys = n <= 256 ? stackalloc ChunkKey[n] : (rented = ArrayPool<ChunkKey>.Shared.Rent(n)).AsSpan(0, n);
        try
        {
            PrefixHasher.ComputeKeys(layout, salt, tokens, keys);
            return Lookup(layout, keys, tokens.Length);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<ChunkKey>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The number of leading tokens whose chunks (<paramref name="keys"/>) are cached in a tier with a local index.</summary>
    public int Lookup(KvLayout layout, ReadOnlySpan<ChunkKey> keys) => Lookup(layout, keys, keys.Length * layout.TokensPerChunk);

    /// <summary>
    /// Finds, for each leading chunk, the index of the fastest local tier holding it; returns the number of leading
    /// chunks found. <paramref name="tierOfChunk"/> must hold <paramref name="keys"/>.Length entries.
    /// </summary>
    public int LocateChunks(ReadOnlySpan<ChunkKey> keys, Span<int> tierOfChunk)
    {
        if (tierOfChunk.Length < keys.Length)
        {
            throw new ArgumentException("tierOfChunk must have one entry per key.", nameof(tierOfChunk));
        }

        for (int i = 0; i < keys.Length; i++)
        {
            int found = -1;
            for (int t = 0; t < _tiers.Length; t++)
            {
                var tier = _tiers[t];
                if (tier.HasLocalIndex && tier.Contains(keys[i]))
                {
                    found = t;
                    break;
                }
            }

            if (found < 0)
            {
                return i;
            }

            tierOfChunk[i] = found;
        }

        return keys.Length;
    }

    /// <summary>
    /// Like <see cref="Lookup(KvLayout, ReadOnlySpan{ChunkKey})"/> but also asks tiers without a local index (the
    /// remote tier) with one batched existence query each, for the chunks the local tiers do not hold.
    /// </summary>
    public async ValueTask<int> LookupAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = keys.Length;
        int[] where = ArrayPool<int>.Shared.Rent(Math.Max(n, 1));
        try
        {
            int hit = await LocateChunksAsync(layout, keys, where.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            RecordLookup(layout, n * layout.TokensPerChunk, where.AsSpan(0, hit));
            return hit * layout.TokensPerChunk;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(where);
        }
    }

    /// <summary>
    /// Like <see cref="LocateChunks"/> but also asks tiers without a local index (the remote tier) about the chunks
    /// the local tiers do not hold, with one batched existence query per tier (bounded by that tier's budget).
    /// </summary>
    public async ValueTask<int> LocateChunksAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<int> tierOfChunk, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = keys.Length;
        int hit = LocateChunks(keys.Span, tierOfChunk.Span);
        if (hit == n)
        {
            return hit;
        }

        bool[] present = ArrayPool<bool>.Shared.Rent(n - hit);
        try
        {
            for (int t = 0; t < _tiers.Length && hit < n; t++)
            {
                if (_tiers[t].HasLocalIndex)
                {
                    continue;
                }

                var rest = keys[hit..];
                await _tiers[t].ExistsAsync(layout, rest, present.AsMemory(0, rest.Length), cancellationToken).ConfigureAwait(false);
                int run = 0;
                while (run < rest.Length && present[run])
                {
                    tierOfChunk.Span[hit + run] = t;
                    run++;
                }

                hit += run;
            }

            return hit;
        }
        finally
        {
            ArrayPool<bool>.Shared.Return(present);
        }
    }

    private int Lookup(KvLayout layout, ReadOnlySpan<ChunkKey> keys, int requestedTokens)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int n = keys.Length;
        int[]? rented = null;
        Span<int> where = n <= 1024 ? stackalloc int[n] : (rented = ArrayPool<int>.Shared.Rent(n)).AsSpan(0, n);
        try
        {
            int hit = LocateChunks(keys, where);
            RecordLookup(layout, requestedTokens, where[..hit]);
            return hit * layout.TokensPerChunk;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private void RecordLookup(KvLayout layout, long requestedTokens, ReadOnlySpan<int> where)
    {
        Metrics.RecordLookup(requestedTokens);
        Span<int> perTier = stackalloc int[_tiers.Length];
        foreach (int t in where)
        {
            perTier[t]++;
        }

        for (int t = 0; t < perTier.Length; t++)
        {
            if (perTier[t] > 0)
            {
                Metrics.RecordHitTokens(_counters[t], (long)perTier[t] * layout.TokensPerChunk);
            }
        }
    }
}
