using TierKv.Cuda.Interop;
using TierKv.Memory;

namespace TierKv.Cuda.Memory;

/// <summary>
/// Allocates the DRAM tier's pool as pinned, portable, mapped host memory (<c>cuMemHostAlloc</c>), so chunks held in
/// the tier move to and from the GPU at the DMA ceiling with no bounce copy, and kernels can read them directly.
/// </summary>
public sealed unsafe class CudaPinnedHostMemoryAllocator : IHostMemoryAllocator
{
    private readonly CudaDevice _device;

    /// <summary>Creates an allocator bound to <paramref name="device"/>'s context.</summary>
    public CudaPinnedHostMemoryAllocator(CudaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
    }

    /// <inheritdoc />
    public string Description => $"cuda pinned ({_device.Name})";

    /// <summary>
    /// The allocator the DRAM tier should use on this machine: pinned memory on <paramref name="device"/> when one is
    /// given, else plain page-aligned native memory (machines without a GPU never load the driver).
    /// </summary>
    public static IHostMemoryAllocator ForDevice(CudaDevice? device) =>
        device is null ? NativeHostMemoryAllocator.Instance : new CudaPinnedHostMemoryAllocator(device);

    /// <inheritdoc />
    public nint Allocate(nuint bytes, nuint alignment)
    {
        // cuMemHostAlloc returns page-aligned memory; larger alignments are not needed by the DRAM tier.
        if (alignment > 4096 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "Pinned host memory is page-aligned (4096 bytes); ask for a power of two up to 4096.");
        }

        _device.Bind();
        void* p;
        int status = CudaDriver.Api.cuMemHostAlloc(&p, bytes, PinnedHostBuffer.PortableMapped);
        if (status == 2)
        {
            throw new OutOfMemoryException($"cuMemHostAlloc could not pin {bytes} bytes of host memory (CUDA_ERROR_OUT_OF_MEMORY): lower the DRAM tier's capacity or the locked-memory limit.");
        }

        CudaDriver.Check(status, $"cuMemHostAlloc({bytes} bytes)");
        return (nint)p;
    }

    /// <inheritdoc />
    public void Free(nint pointer, nuint bytes)
    {
        if (pointer != 0)
        {
            _device.Bind();
            CudaDriver.Check(CudaDriver.Api.cuMemFreeHost((void*)pointer), "cuMemFreeHost");
        }
    }

    /// <summary>True when <paramref name="pointer"/> lies in host memory the driver has pinned (allocated or registered), anywhere inside the range.</summary>
    public static bool IsPinned(CudaDevice device, nint pointer)
    {
        ArgumentNullException.ThrowIfNull(device);
        device.Bind();

        // Unified addressing resolves interior pointers of pinned ranges; pageable memory is unknown to the driver.
        const int memoryTypeAttribute = 2;
        const uint hostMemory = 1;
        uint type = 0;
        if (CudaDriver.Api.cuPointerGetAttribute(&type, memoryTypeAttribute, (ulong)pointer) == CudaDriver.Success && type == hostMemory)
        {
            return true;
        }

        uint flags;
        return CudaDriver.Api.cuMemHostGetFlags(&flags, (void*)pointer) == CudaDriver.Success;
    }
}
