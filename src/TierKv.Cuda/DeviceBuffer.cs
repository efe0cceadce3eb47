using TierKv.Cuda.Interop;

namespace TierKv.Cuda;

/// <summary>Device memory from <c>cuMemAlloc</c> (plain allocations, never managed memory).</summary>
public sealed unsafe class DeviceBuffer : CudaResource
{
    /// <summary>Allocates <paramref name="bytes"/> on <paramref name="device"/>.</summary>
    public DeviceBuffer(CudaDevice device, long bytes)
        : base(device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        ulong p;
        CudaDriver.Check(CudaDriver.Api.cuMemAlloc_v2(&p, (nuint)bytes), $"cuMemAlloc_v2({bytes} bytes)");
        Own(p);
        Bytes = bytes;
    }

    /// <summary>Device address.</summary>
    public ulong Pointer => RawHandle;

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>Copies <paramref name="source"/> into the buffer at <paramref name="offset"/> and waits.</summary>
    public void CopyFrom(ReadOnlySpan<byte> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        Device.Bind();
        fixed (byte* s = source)
        {
            CudaDriver.Check(CudaDriver.Api.cuMemcpyHtoDAsync_v2(Pointer + (ulong)offset, s, (nuint)source.Length, 0), "cuMemcpyHtoDAsync_v2");
        }

        CudaDriver.Check(CudaDriver.Api.cuStreamSynchronize(0), "cuStreamSynchronize");
    }

    /// <summary>Copies from the buffer at <paramref name="offset"/> into <paramref name="destination"/> and waits.</summary>
    public void CopyTo(Span<byte> destination, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        Device.Bind();
        fixed (byte* d = destination)
        {
            CudaDriver.Check(CudaDriver.Api.cuMemcpyDtoHAsync_v2(d, Pointer + (ulong)offset, (nuint)destination.Length, 0), "cuMemcpyDtoHAsync_v2");
        }

        CudaDriver.Check(CudaDriver.Api.cuStreamSynchronize(0), "cuStreamSynchronize");
    }

    /// <summary>Fills the buffer with <paramref name="value"/> and waits.</summary>
    public void Fill(byte value)
    {
        Device.Bind();
        CudaDriver.Check(CudaDriver.Api.cuMemsetD8Async(Pointer, value, (nuint)Bytes, 0), "cuMemsetD8Async");
        CudaDriver.Check(CudaDriver.Api.cuStreamSynchronize(0), "cuStreamSynchronize");
    }

    private protected override void Release(ulong handle) => _ = CudaDriver.Api.cuMemFree_v2(handle);

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset + length > Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"[{offset}, {offset + length}) lies outside the device buffer of {Bytes} bytes.");
        }
    }
}
