using TierKv.Cuda.Interop;

namespace TierKv.Cuda;

/// <summary>A non-blocking CUDA stream (work on it never waits for the legacy default stream).</summary>
public sealed unsafe class CudaStream : CudaResource
{
    /// <summary>Creates a stream on <paramref name="device"/>.</summary>
    public CudaStream(CudaDevice device)
        : base(device)
    {
        nint s;
        CudaDriver.Check(CudaDriver.Api.cuStreamCreate(&s, 1), "cuStreamCreate");
        Own((ulong)s);
    }

    /// <summary>The driver handle (<c>CUstream</c>).</summary>
    public nint Handle => (nint)RawHandle;

    /// <summary>Makes later work on this stream wait, on the device, for <paramref name="cudaEvent"/>.</summary>
    public void Wait(CudaEvent cudaEvent)
    {
        ArgumentNullException.ThrowIfNull(cudaEvent);
        CudaDriver.Check(CudaDriver.Api.cuStreamWaitEvent(Handle, cudaEvent.Handle, 0), "cuStreamWaitEvent");
    }

    /// <summary>Blocks until all work queued on the stream finished.</summary>
    public void Synchronize()
    {
        Device.Bind();
        CudaDriver.Check(CudaDriver.Api.cuStreamSynchronize(Handle), "cuStreamSynchronize");
    }

    private protected override void Release(ulong handle) => _ = CudaDriver.Api.cuStreamDestroy_v2((nint)handle);
}
