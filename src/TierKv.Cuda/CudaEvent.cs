using TierKv.Cuda.Interop;

namespace TierKv.Cuda;

/// <summary>A CUDA event with timing: marks a point in a stream that other streams or the host can wait for.</summary>
public sealed unsafe class CudaEvent : CudaResource
{
    /// <summary>Creates an event on <paramref name="device"/>.</summary>
    public CudaEvent(CudaDevice device)
        : base(device)
    {
        nint e;
        CudaDriver.Check(CudaDriver.Api.cuEventCreate(&e, 0), "cuEventCreate");
        Own((ulong)e);
    }

    /// <summary>The driver handle (<c>CUevent</c>).</summary>
    public nint Handle => (nint)RawHandle;

    /// <summary>Records the event at the current end of <paramref name="stream"/>.</summary>
    public void Record(CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        CudaDriver.Check(CudaDriver.Api.cuEventRecord(Handle, stream.Handle), "cuEventRecord");
    }

    /// <summary>Blocks the calling thread until the work before the event finished.</summary>
    public void Synchronize()
    {
        Device.Bind();
        CudaDriver.Check(CudaDriver.Api.cuEventSynchronize(Handle), "cuEventSynchronize");
    }

    /// <summary>True when the work before the event finished.</summary>
    public bool IsComplete()
    {
        Device.Bind();
        int status = CudaDriver.Api.cuEventQuery(Handle);
        if (status == CudaDriver.NotReady)
        {
            return false;
        }

        CudaDriver.Check(status, "cuEventQuery");
        return true;
    }

    /// <summary>Milliseconds between <paramref name="start"/> and this event (both completed).</summary>
    public float ElapsedSince(CudaEvent start)
    {
        ArgumentNullException.ThrowIfNull(start);
        float ms;
        CudaDriver.Check(CudaDriver.Api.cuEventElapsedTime(&ms, start.Handle, Handle), "cuEventElapsedTime");
        return ms;
    }

    private protected override void Release(ulong handle) => _ = CudaDriver.Api.cuEventDestroy_v2((nint)handle);
}
