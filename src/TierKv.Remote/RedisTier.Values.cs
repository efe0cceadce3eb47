using System.IO.Hashing;
using StackExchange.Redis;
using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Remote;

/// <summary>Values: read (verified into the caller's buffer), write and replace (header in front of the payload), remove.</summary>
public sealed partial class RedisTier
{
    /// <inheritdoc />
    public async ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (ValueNodeFor(layout, key, destination.Length, nameof(destination), "read", out var redisKey) is not { } node)
        {
            return TierReadStatus.Failed;
        }

        var (ok, result) = await CallAsync(
            node,
            "read",
            _options.ValueTimeout,
            retry: true,
            (Db: BulkFor(key), Key: redisKey),
            static s => s.Db.StringGetLeaseAsync(s.Key),
            DisposeWhenDone,
            cancellationToken).ConfigureAwait(false);
        if (!ok)
        {
            return TierReadStatus.Failed;
        }

        using var lease = result;
        if (lease is null)
        {
            Interlocked.Increment(ref Counters.Misses);
            return TierReadStatus.Miss;
        }

        var damage = VerifyInto(layout, key, lease.Span, destination.Span);
        if (damage != ChunkDamage.None)
        {
            RecordDamage(key, redisKey, damage);
            return TierReadStatus.Damaged;
        }

        Interlocked.Increment(ref Counters.Hits);
        return TierReadStatus.Hit;
    }

    /// <inheritdoc />
    public ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        WriteAsync(layout, key, payload, When.NotExists, cancellationToken);

    /// <inheritdoc />
    public ValueTask<TierWriteStatus> ReplaceAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        WriteAsync(layout, key, payload, When.Always, cancellationToken);

    /// <summary>
    /// One <c>SET</c> of a chunk: <see cref="When.NotExists"/> for content-addressed chunks (a chunk is immutable once
    /// stored: equal keys mean equal prefixes, so a second writer changes nothing), <see cref="When.Always"/> for a
    /// value that replaces an older version (Redis replaces it atomically: a reader sees the old or the new).
    /// </summary>
    private async ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ReadOnlyMemory<byte> payload, When when, CancellationToken cancellationToken)
    {
        if (ValueNodeFor(layout, key, payload.Length, nameof(payload), "write", out var redisKey) is not { } node)
        {
            return TierWriteStatus.Failed;
        }

        var (ok, stored) = await CallAsync(
            node,
            "write",
            _options.ValueTimeout,
            retry: false,
            (Db: BulkFor(key), RedisKey: redisKey, Layout: layout, Key: key, Payload: payload, _options.Expiry, When: when),
            static s =>
            {
                // Header in front of the caller's payload, sent as two pieces: the payload is hashed once and never
                // copied. Should a timeout abandon the write and the caller reuse its buffer while the client still
                // sends it, the stored bytes would not match the header's checksum: a miss for every reader, never
                // wrong data.
                var header = new byte[ChunkHeader.Size];
                ChunkHeader.For(s.Layout, s.Key, s.Payload.Span).WriteTo(header);
                return s.Db.StringSetAsync(s.RedisKey, ValueSegment.Concat(header, s.Payload), s.Expiry, s.When);
            },
            Observe,
            cancellationToken).ConfigureAwait(false);
        if (!ok)
        {
            return TierWriteStatus.Failed;
        }

        if (!stored)
        {
            Interlocked.Increment(ref Counters.AlreadyPresent);
            return TierWriteStatus.AlreadyPresent;
        }

        Interlocked.Increment(ref Counters.Writes);
        return TierWriteStatus.Stored;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        RedisKey redisKey = _scheme.KeyFor(key);
        var node = NodeFor(redisKey);
        if (!node.LookupConnected)
        {
            RecordUnavailable("remove");
            return false;
        }

        var (ok, removed) = await CallAsync(
            node,
            "remove",
            _options.LookupTimeout,
            retry: true,
            (Db: _lookupDb, Key: redisKey),
            static s => s.Db.KeyDeleteAsync(s.Key),
            abandon: null,
            cancellationToken).ConfigureAwait(false);
        return ok && removed;
    }

    /// <summary>
    /// The node that owns <paramref name="key"/>, for a value of <paramref name="length"/> bytes (one chunk of
    /// <paramref name="layout"/>, else an <see cref="ArgumentException"/> naming <paramref name="buffer"/>); null, with
    /// the <paramref name="operation"/> counted as a failure, when the node's value connection is down.
    /// </summary>
    private RemoteNode? ValueNodeFor(KvLayout layout, ChunkKey key, int length, string buffer, string operation, out RedisKey redisKey)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (length != layout.ChunkBytes)
        {
            throw new ArgumentException($"The {buffer} has {length} bytes; a chunk of this layout has {layout.ChunkBytes}.", buffer);
        }

        redisKey = _scheme.KeyFor(key);
        var node = NodeFor(redisKey);
        if (!node.BulkConnected(BulkIndex(key)))
        {
            RecordUnavailable(operation);
            return null;
        }

        return node;
    }

    private static ChunkDamage VerifyInto(KvLayout layout, ChunkKey key, ReadOnlySpan<byte> encoded, Span<byte> destination)
    {
        var damage = ChunkHeader.TryRead(encoded, out var header);
        if (damage == ChunkDamage.None)
        {
            damage = ChunkCodec.VerifyHeader(header, layout.Fingerprint, key, layout.ChunkBytes);
        }

        if (damage != ChunkDamage.None)
        {
            return damage;
        }

        var body = encoded[ChunkHeader.Size..];
        if (body.Length != destination.Length)
        {
            return ChunkDamage.Truncated;
        }

        // Copy and hash block by block, so each block is hashed while it is still in cache: one pass over the value
        // instead of a hashing pass and then a copying pass. Same XXH3-64 (seed 0) as ChunkCodec.Verify.
        var hasher = t_hasher ??= new XxHash3();
        hasher.Reset();
        const int block = 256 * 1024;
        for (int o = 0; o < body.Length; o += block)
        {
            int len = Math.Min(block, body.Length - o);
            var src = body.Slice(o, len);
            src.CopyTo(destination.Slice(o, len));
            hasher.Append(destination.Slice(o, len));
        }

        // The bytes hashed are the bytes delivered: a mismatch means the copy the caller holds is bad, and it is a miss.
        return hasher.GetCurrentHashAsUInt64() == header.PayloadChecksum ? ChunkDamage.None : ChunkDamage.BadChecksum;
    }

    private static void DisposeWhenDone(Task<Lease<byte>?>? pending)
    {
        pending?.ContinueWith(
            static t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    t.Result?.Dispose();
                }
                else
                {
                    _ = t.Exception;
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
