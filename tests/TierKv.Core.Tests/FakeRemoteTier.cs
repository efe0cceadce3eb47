using System.Collections.Concurrent;
using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Core.Tests;

/// <summary>A tier without a local index that keeps encoded chunks in a dictionary, with injectable damage and failures.</summary>
internal sealed class FakeRemoteTier : IKvTier
{
    private readonly ConcurrentDictionary<ChunkKey, byte[]> _values = new();

    public string Name => "fake-remote";

    public TierKind Kind => TierKind.Remote;

    public long CapacityBytes => long.MaxValue;

    public long UsedBytes => _values.Values.Sum(v => (long)v.Length);

    public long ChunkCount => _values.Count;

    public bool HasLocalIndex => false;

    public bool Failing { get; set; }

    /// <summary>When set, reads and writes throw what this makes (given the call's token) instead of answering.</summary>
    public Func<CancellationToken, Exception>? Throws { get; set; }

    public int ExistsCalls;

    public bool Contains(in ChunkKey key) => false;

    public void Damage(ChunkKey key, int offset) => _values[key][offset] ^= 0x5A;

    public ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref ExistsCalls);
        for (int i = 0; i < keys.Length; i++)
        {
            present.Span[i] = !Failing && _values.ContainsKey(keys.Span[i]);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (Throws is { } make)
        {
            throw make(cancellationToken);
        }

        if (Failing)
        {
            return ValueTask.FromResult(TierReadStatus.Failed);
        }

        if (!_values.TryGetValue(key, out var v))
        {
            return ValueTask.FromResult(TierReadStatus.Miss);
        }

        if (ChunkCodec.Verify(v, layout, key, out var payload) != ChunkDamage.None)
        {
            _values.TryRemove(key, out _);
            return ValueTask.FromResult(TierReadStatus.Damaged);
        }

        payload.CopyTo(destination.Span);
        return ValueTask.FromResult(TierReadStatus.Hit);
    }

    public ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (Throws is { } make)
        {
            throw make(cancellationToken);
        }

        if (Failing)
        {
            return ValueTask.FromResult(TierWriteStatus.Failed);
        }

        return ValueTask.FromResult(_values.TryAdd(key, ChunkCodec.Encode(layout, key, payload.Span)) ? TierWriteStatus.Stored : TierWriteStatus.AlreadyPresent);
    }

    public ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default) => ValueTask.FromResult(_values.TryRemove(key, out _));

    public void Dispose()
    {
    }
}
