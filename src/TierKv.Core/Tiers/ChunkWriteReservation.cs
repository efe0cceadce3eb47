
namespace TierKv.Tiers;

/// <summary>
/// A DRAM slot reserved by <see cref="HostMemoryTier.TryBeginWrite"/> for one chunk that the caller fills in place,
/// then publishes with <see cref="HostMemoryTier.CommitWrite"/> or gives back with <see cref="HostMemoryTier.AbortWrite"/>
/// (exactly one of the two). Invisible to lookups until committed.
/// </summary>
public readonly struct ChunkWriteReservation
{
    internal ChunkWriteReservation(ChunkKey key, int slot, nint pointer, int length)
    {
        Key = key;
        Slot = slot;
        Pointer = pointer;
        Length = length;
        IsValid = true;
    }

    /// <summary>The key the chunk will be published under.</summary>
    public ChunkKey Key { get; }

    /// <summary>Address of the slot's first byte.</summary>
    public nint Pointer { get; }

    /// <summary>Bytes the caller must fill.</summary>
    public int Length { get; }

    /// <summary>False for the default value (nothing reserved).</summary>
    public bool IsValid { get; }

    /// <summary>The slot to fill.</summary>
    public unsafe Span<byte> Span => new((void*)Pointer, Length);

    internal int Slot { get; }
}
