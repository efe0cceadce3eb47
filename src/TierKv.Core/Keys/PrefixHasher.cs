using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace TierKv.Keys;

/// <summary>
/// Computes chained chunk keys (docs/hashing.md):
/// <c>h0 = XXH3-128("TierKV/root/v1" ‖ fingerprint ‖ u32 len(salt) ‖ salt)</c>,
/// <c>h_i = XXH3-128(h_(i-1) ‖ XXH3-128(token ids of chunk i as u32 little-endian))</c>.
/// Hashing the tokens one-shot and chaining over 32 bytes keeps most of XXH3's one-shot speed while every key
/// depends on the whole 128-bit history.
/// </summary>
public static class PrefixHasher
{
    private static ReadOnlySpan<byte> RootTag => "TierKV/root/v1"u8;

    /// <summary>The root key <c>h0</c> of a layout and tenant.</summary>
    public static ChunkKey Root(KvLayout layout, TenantSalt salt)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(salt);
        int len = RootTag.Length + ChunkKey.Size + 4 + salt.Bytes.Length;
        Span<byte> buf = len <= 512 ? stackalloc byte[len] : new byte[len];
        RootTag.CopyTo(buf);
        int o = RootTag.Length;
        layout.Fingerprint.WriteTo(buf[o..]);
        o += ChunkKey.Size;
        BinaryPrimitives.WriteUInt32LittleEndian(buf[o..], (uint)salt.Bytes.Length);
        o += 4;
        salt.Bytes.CopyTo(buf[o..]);
        return new ChunkKey(XxHash128.HashToUInt128(buf));
    }

    /// <summary>The key of the chunk that follows <paramref name="parent"/> and holds <paramref name="chunkTokens"/>.</summary>
    public static ChunkKey Next(ChunkKey parent, ReadOnlySpan<int> chunkTokens) =>
        new(Xxh3Pair.Hash(parent.Value, XxHash128.HashToUInt128(AsLittleEndianBytes(chunkTokens))));

    /// <summary>Number of full chunks in <paramref name="tokenCount"/> tokens.</summary>
    public static int FullChunks(KvLayout layout, int tokenCount) => tokenCount / layout.TokensPerChunk;

    /// <summary>
    /// Writes the keys of every full chunk of <paramref name="tokens"/> into <paramref name="keys"/> and returns how
    /// many were written. A trailing partial chunk gets no key (only full chunks are stored).
    /// </summary>
    public static int ComputeKeys(KvLayout layout, TenantSalt salt, ReadOnlySpan<int> tokens, Span<ChunkKey> keys)
    {
        int n = FullChunks(layout, tokens.Length);
        if (keys.Length < n)
        {
            throw new ArgumentException($"The key buffer holds {keys.Length} keys but {tokens.Length} tokens make {n} chunks of {layout.TokensPerChunk}.", nameof(keys));
        }

        UInt128 h = Root(layout, salt).Value;
        int tpc = layout.TokensPerChunk;
        var bytes = AsLittleEndianBytes(tokens[..(n * tpc)]);
        int chunkBytes = tpc * sizeof(int);
        if (n >= ParallelThreshold && Environment.ProcessorCount > 1)
        {
            // Long prompts: the per-chunk token hashes are independent, so they run on several cores; only the
            // cheap 32-byte chain step below is sequential.
            HashChunksInParallel(bytes, chunkBytes, keys[..n]);
            for (int i = 0; i < n; i++)
            {
                h = Xxh3Pair.Hash(h, keys[i].Value);
                keys[i] = new ChunkKey(h);
            }

            return n;
        }

        for (int i = 0; i < n; i++)
        {
            h = Xxh3Pair.Hash(h, XxHash128.HashToUInt128(bytes.Slice(i * chunkBytes, chunkBytes)));
            keys[i] = new ChunkKey(h);
        }

        return n;
    }

    /// <summary>Requests of at least this many chunks hash their chunks' tokens on several cores.</summary>
    public const int ParallelThreshold = 64;

    /// <summary>
    /// Like <see cref="ComputeKeys(KvLayout, TenantSalt, ReadOnlySpan{int}, Span{ChunkKey})"/> but always on the
    /// calling thread (for measurement and for callers that must not touch the thread pool).
    /// </summary>
    public static int ComputeKeysSingleThreaded(KvLayout layout, TenantSalt salt, ReadOnlySpan<int> tokens, Span<ChunkKey> keys)
    {
        int n = FullChunks(layout, tokens.Length);
        if (keys.Length < n)
        {
            throw new ArgumentException($"The key buffer holds {keys.Length} keys but {tokens.Length} tokens make {n} chunks of {layout.TokensPerChunk}.", nameof(keys));
        }

        UInt128 h = Root(layout, salt).Value;
        int chunkBytes = layout.TokensPerChunk * sizeof(int);
        var bytes = AsLittleEndianBytes(tokens[..(n * layout.TokensPerChunk)]);
        for (int i = 0; i < n; i++)
        {
            h = Xxh3Pair.Hash(h, XxHash128.HashToUInt128(bytes.Slice(i * chunkBytes, chunkBytes)));
            keys[i] = new ChunkKey(h);
        }

        return n;
    }

    private static unsafe void HashChunksInParallel(ReadOnlySpan<byte> bytes, int chunkBytes, Span<ChunkKey> tokenHashes)
    {
        int n = tokenHashes.Length;
        const int block = 32;
        fixed (byte* src = bytes)
        fixed (ChunkKey* dst = tokenHashes)
        {
            var job = new ParallelHashJob((nint)src, (nint)dst, chunkBytes, n);
            Parallel.For(0, (n + block - 1) / block, job.Run);
        }
    }

    /// <summary>One request's parallel token hashing; the pointers stay fixed for the duration of the call.</summary>
    private sealed unsafe class ParallelHashJob(nint source, nint destination, int chunkBytes, int chunks)
    {
        public void Run(int blockIndex)
        {
            const int block = 32;
            int end = Math.Min(chunks, (blockIndex + 1) * block);
            for (int i = blockIndex * block; i < end; i++)
            {
                var span = new ReadOnlySpan<byte>((byte*)source + ((long)i * chunkBytes), chunkBytes);
                ((ChunkKey*)destination)[i] = new ChunkKey(XxHash128.HashToUInt128(span));
            }
        }
    }

    /// <summary>Allocating convenience form of <see cref="ComputeKeys(KvLayout, TenantSalt, ReadOnlySpan{int}, Span{ChunkKey})"/>.</summary>
    public static ChunkKey[] ComputeKeys(KvLayout layout, TenantSalt salt, ReadOnlySpan<int> tokens)
    {
        var keys = new ChunkKey[FullChunks(layout, tokens.Length)];
        ComputeKeys(layout, salt, tokens, keys);
        return keys;
    }

    private static ReadOnlySpan<byte> AsLittleEndianBytes(ReadOnlySpan<int> tokens)
    {
        if (!BitConverter.IsLittleEndian)
        {
            // The encoding is little-endian; a big-endian port would swap here.
            throw new PlatformNotSupportedException("TierKV's key encoding is implemented for little-endian machines.");
        }

        return MemoryMarshal.AsBytes(tokens);
    }
}
