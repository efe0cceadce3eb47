using TierKv.Cuda.Interop;

namespace TierKv.Cuda;

/// <summary>
/// Page-locked host memory from <c>cuMemHostAlloc</c>, portable and mapped: DMA copies run at the PCIe ceiling, and
/// kernels may read or write it directly (under unified addressing its device address equals its host address).
/// </summary>
public sealed unsafe class PinnedHostBuffer : CudaResource
{
    /// <summary><c>CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP</c>.</summary>
    internal const uint PortableMapped = 0x01 | 0x02;

    /// <summary>Allocates <paramref name="bytes"/> of pinned, mapped host memory.</summary>
    public PinnedHostBuffer(CudaDevice device, long bytes)
        : base(device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        void* p;
        CudaDriver.Check(CudaDriver.Api.cuMemHostAlloc(&p, (nuint)bytes, PortableMapped), $"cuMemHostAlloc({bytes} bytes)");
        Own((ulong)p);
        Bytes = bytes;
    }

    /// <summary>Host address (also the device address under unified addressing).</summary>
    public nint Pointer => (nint)RawHandle;

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

    private protected override void Release(ulong handle) => _ = CudaDriver.Api.cuMemFreeHost((void*)handle);
}
