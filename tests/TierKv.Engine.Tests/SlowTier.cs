using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Engine.Tests;

/// <summary>A deliberately slow tier: DRAM underneath, every read delayed, reported as an SSD.</summary>
internal sealed class SlowTier(HostMemoryTier inner, TimeSpan readDelay, bool failReads = false) : IKvTier
{
    public int Reads;

    public string Name => "slow";

    public TierKind Kind => TierKind.Ssd;

    public long CapacityBytes => inner.CapacityBytes;

    public long UsedBytes => inner.UsedBytes;

    public long ChunkCount => inner.ChunkCount;

    public bool HasLocalIndex => true;

    public bool Contains(in ChunkKey key) => inner.Contains(key);

    public ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default) =>
        inner.ExistsAsync(layout, keys, present, cancellationToken);

    public async ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Reads);
        // Simulates a slow medium (the time is the point of the test, not a synchronisation).
        await Task.Delay(readDelay, cancellationToken);
        return failReads ? TierReadStatus.Failed : await inner.ReadAsync(layout, key, destination, cancellationToken);
    }

    public ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(layout, key, parent, payload, cancellationToken);

    public ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

    public void Dispose() => inner.Dispose();
}
