using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace TierKv.Server.Tenants;

/// <summary>
/// Page-aligned native buffers of one value record, for reads from tiers below DRAM (the SSD tier reads straight into
/// them, and the reply is sent from them). Unlike <c>ArrayPool.Shared</c>, it keeps at most a few buffers between
/// requests, and a buffer is native memory: a burst of SSD reads (or clients that never read their replies) costs
/// memory only while those replies are in flight, never a garbage-collector pause, and the memory goes back afterwards.
/// </summary>
internal sealed unsafe class RecordBufferPool(int recordBytes, int retained) : IDisposable
{
    private readonly ConcurrentQueue<nint> _idle = new();
    private int _idleCount;
    private int _disposed;

    /// <summary>Bytes of each buffer.</summary>
    public int RecordBytes => recordBytes;

    public nint Rent()
    {
        if (_idle.TryDequeue(out var b))
        {
            Interlocked.Decrement(ref _idleCount);
            return b;
        }

        var p = (nint)NativeMemory.AlignedAlloc((nuint)recordBytes, 4096);
        return p != 0 ? p : throw new OutOfMemoryException($"Could not allocate a read buffer of {recordBytes} bytes.");
    }

    public void Return(nint buffer)
    {
        if (Volatile.Read(ref _disposed) == 0 && Interlocked.Increment(ref _idleCount) <= retained)
        {
            _idle.Enqueue(buffer);
            return;
        }

        Interlocked.Decrement(ref _idleCount);
        NativeMemory.AlignedFree((void*)buffer);
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, 1);
        while (_idle.TryDequeue(out var b))
        {
            NativeMemory.AlignedFree((void*)b);
        }
    }
}
