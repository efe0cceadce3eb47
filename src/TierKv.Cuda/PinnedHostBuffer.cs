using TierKv.Cuda.Interop;

namespace TierKv.Cuda;

/// <summary>
/// Page-locked host memory from <c>cuMemHostAlloc</c>, portable and mapped: DMA copies run at the PCIe ceiling, and
/// kernels may read or write it directly (under unified addressing its device address equals its host address).
/// </summary>
public sealed unsafe class PinnedHostBuffer : IDisposable
{
    /// <summary><c>CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP</c>.</summary>
    internal const uint PortableMapped = 0x01 | 0x02;

    private readonly CudaDevice _device;
    private nint _pointer;

    /// <summary>Allocates <paramref name="bytes"/> of pinned, mapped host memory.</summary>
    public PinnedHostBuffer(CudaDevice device, long bytes)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        _device = device;
        device.Bind();
        void* p;
        CudaDriver.Check(CudaDriver.Api.cuMemHostAlloc(&p, (nuint)bytes, PortableMapped), $"cuMemHostAlloc({bytes} bytes)");
        _pointer = (nint)p;
        Bytes = bytes;
    }

    /// <summary>Host address (also the device address under unified addressing).</summary>
    public nint Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(PinnedHostBuffer));

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>A span over <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    public Span<byte> AsSpan(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"[{offset}, {offset + length}) lies outside the pinned buffer of {Bytes} bytes.");
        }

        return new Span<byte>((byte*)Pointer + offset, length);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        nint p = Interlocked.Exchange(ref _pointer, 0);
        if (p != 0)
        {
            _device.Bind();
            _ = CudaDriver.Api.cuMemFreeHost((void*)p);
        }
    }
}
