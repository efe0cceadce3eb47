using System.Buffers;

namespace TierKv.Memory;

/// <summary>A <see cref="Memory{T}"/> over native memory (a caller's pinned buffer, a pool slot).</summary>
public sealed unsafe class NativeMemoryManager : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    /// <summary>Wraps <paramref name="length"/> bytes at <paramref name="pointer"/>; the caller keeps them alive.</summary>
    public NativeMemoryManager(nint pointer, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _pointer = (byte*)pointer;
        _length = length;
    }

    /// <inheritdoc />
    public override Span<byte> GetSpan() => new(_pointer, _length);

    /// <inheritdoc />
    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    /// <inheritdoc />
    public override void Unpin()
    {
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
    }
}
