using TierKv.Cuda.Interop;

namespace TierKv.Cuda;

/// <summary>Device memory from <c>cuMemAlloc</c> (plain allocations, never managed memory).</summary>
public sealed unsafe class DeviceBuffer : IDisposable
{
    private readonly CudaDevice _device;
    private ulong _pointer;

    /// <summary>Allocates <paramref name="bytes"/> on <paramref name="device"/>.</summary>
    public DeviceBuffer(CudaDevice device, long bytes)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        _device = device;
        device.Bind();
        ulong p;
        CudaDriver.Check(CudaDriver.Api.cuMemAlloc_v2(&p, (nuint)bytes), $"cuMemAlloc_v2({bytes} bytes)");
        _pointer = p;
        Bytes = bytes;
    }

    /// <summary>Device address.</summary>
    public ulong Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(DeviceBuffer));

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>Copies <paramref name="source"/> into the buffer at <paramref name="offset"/> and waits.</summary>
    public void CopyFrom(ReadOnlySpan<byte> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        _device.Bind();
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
        _device.Bind();
        fixed (byte* d = destination)
        {
            CudaDriver.Check(CudaDriver.Api.cuMemcpyDtoHAsync_v2(d, Pointer + (ulong)offset, (nuint)destination.Length, 0), "cuMemcpyDtoHAsync_v2");
        }

        CudaDriver.Check(CudaDriver.Api.cuStreamSynchronize(0), "cuStreamSynchronize");
    }

    /// <summary>Fills the buffer with <paramref name="value"/> and waits.</summary>
    public void Fill(byte value)
    {
        _device.Bind();
        CudaDriver.Check(CudaDriver.Api.cuMemsetD8Async(Pointer, value, (nuint)Bytes, 0), "cuMemsetD8Async");
        CudaDriver.Check(CudaDriver.Api.cuStreamSynchronize(0), "cuStreamSynchronize");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ulong p = Interlocked.Exchange(ref _pointer, 0);
        if (p != 0)
        {
            _device.Bind();
            _ = CudaDriver.Api.cuMemFree_v2(p);
        }
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset + length > Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"[{offset}, {offset + length}) lies outside the device buffer of {Bytes} bytes.");
        }
    }
}
