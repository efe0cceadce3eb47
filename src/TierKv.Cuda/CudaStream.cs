using TierKv.Cuda.Interop;

namespace TierKv.Cuda;

/// <summary>A non-blocking CUDA stream (work on it never waits for the legacy default stream).</summary>
public sealed unsafe class CudaStream : IDisposable
{
    private readonly CudaDevice _device;
    private nint _handle;

    /// <summary>Creates a stream on <paramref name="device"/>.</summary>
    public CudaStream(CudaDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        device.Bind();
        nint s;
        CudaDriver.Check(CudaDriver.Api.cuStreamCreate(&s, 1), "cuStreamCreate");
        _handle = s;
    }

    /// <summary>The driver handle (<c>CUstream</c>).</summary>
    public nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(CudaStream));

    /// <summary>Makes later work on this stream wait, on the device, for <paramref name="cudaEvent"/>.</summary>
    public void Wait(CudaEvent cudaEvent)
    {
        ArgumentNullException.ThrowIfNull(cudaEvent);
        CudaDriver.Check(CudaDriver.Api.cuStreamWaitEvent(Handle, cudaEvent.Handle, 0), "cuStreamWaitEvent");
    }

    /// <summary>Blocks until all work queued on the stream finished.</summary>
    public void Synchronize()
    {
        _device.Bind();
        CudaDriver.Check(CudaDriver.Api.cuStreamSynchronize(Handle), "cuStreamSynchronize");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        nint h = Interlocked.Exchange(ref _handle, 0);
        if (h != 0)
        {
            _device.Bind();
            _ = CudaDriver.Api.cuStreamDestroy_v2(h);
        }
    }
}
