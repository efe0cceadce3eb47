using System.Buffers;

namespace TierKv.Server.Connections;

/// <summary>
/// A reusable <see cref="Memory{T}"/> over native memory (a DRAM slot), so a socket can send from or receive into the
/// pool in place. One per connection, re-pointed per value: no allocation per request.
/// </summary>
internal sealed unsafe class NativeWindow : MemoryManager<byte>
{
    private byte* _pointer;
    private int _length;

    public Memory<byte> Over(nint pointer, int length)
    {
        _pointer = (byte*)pointer;
        _length = length;
        return CreateMemory(length);
    }

    public void Clear()
    {
        _pointer = null;
        _length = 0;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing) => Clear();
}
