using TierKv.Memory;

namespace TierKv.Store;

/// <summary>
/// A chunk's bytes as one store flow carries them for both kinds of caller: managed memory (asynchronous callers) or
/// the address of a span the synchronous caller keeps pinned until the flow returns. The DRAM path reads the span;
/// only a write to a slower tier needs a <see cref="ReadOnlyMemory{T}"/>, made then (so a synchronous DRAM store
/// allocates nothing per chunk).
/// </summary>
internal readonly unsafe struct ChunkPayload
{
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly nint _pointer;

    /// <summary>Bytes held as managed memory.</summary>
    public ChunkPayload(ReadOnlyMemory<byte> memory)
    {
        _memory = memory;
        Length = memory.Length;
    }

    /// <summary><paramref name="length"/> bytes at <paramref name="pointer"/>, pinned by the caller for the whole flow.</summary>
    public ChunkPayload(nint pointer, int length)
    {
        _pointer = pointer;
        Length = length;
    }

    /// <summary>Number of bytes.</summary>
    public int Length { get; }

    /// <summary>The bytes.</summary>
    public ReadOnlySpan<byte> Span => _pointer != 0 ? new ReadOnlySpan<byte>((void*)_pointer, Length) : _memory.Span;

    /// <summary>The bytes as memory for an asynchronous tier call: the caller's own, or a view of the pinned span.</summary>
    public ReadOnlyMemory<byte> Memory => _pointer != 0 ? new NativeMemoryManager(_pointer, Length).Memory : _memory;
}
