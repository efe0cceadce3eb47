namespace TierKv.Cuda;

/// <summary>
/// No usable GPU: the driver library, NVRTC or a device is missing. The message names what is missing; TierKV's other
/// paths work unchanged without a GPU.
/// </summary>
public sealed class GpuUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception with a message naming what is missing.</summary>
    public GpuUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public GpuUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public GpuUnavailableException()
        : base("No usable CUDA GPU.")
    {
    }
}
