namespace TierKv.Tiers;

/// <summary>
/// A read pin on one resident DRAM chunk: while the lease is held the slot is never reclaimed, so a caller may read
/// the bytes in place (a GPU upload, a socket send). Dispose it exactly once.
/// </summary>
public readonly struct ChunkLease : IDisposable
{
    private readonly HostMemoryTier? _tier;
    private readonly int _slot;

    internal ChunkLease(HostMemoryTier tier, int slot, nint pointer, int length, long version)
    {
        _tier = tier;
        _slot = slot;
        Pointer = pointer;
        Length = length;
        Version = version;
    }

    /// <summary>The version the chunk was committed with (0: content-addressed; docs/core.md, "Versions").</summary>
    public long Version { get; }

    /// <summary>Address of the payload inside the pool.</summary>
    public nint Pointer { get; }

    /// <summary>Payload length.</summary>
    public int Length { get; }

    /// <summary>The payload, valid until the lease is disposed.</summary>
    public unsafe ReadOnlySpan<byte> Span => new((void*)Pointer, Length);

    /// <summary>Releases the pin.</summary>
    public void Dispose() => _tier?.Unpin(_slot);
}
