namespace TierKv.Cuda.Tests;

/// <summary>Opens the GPU once for the GPU tests; without one, holds the reason they skip.</summary>
public sealed class GpuFixture : IDisposable
{
    public GpuFixture()
    {
        var probe = CudaDevice.Probe();
        if (!probe.IsAvailable)
        {
            SkipReason = "No GPU: " + probe.Reason;
            return;
        }

        try
        {
            Device = CudaDevice.Open();
        }
        catch (GpuUnavailableException ex)
        {
            SkipReason = "No usable GPU: " + ex.Message;
        }
    }

    public CudaDevice? Device { get; }

    public string? SkipReason { get; }

    public void Dispose() => Device?.Dispose();
}
