namespace TierKv.Cuda;

/// <summary>Whether this machine can run TierKV's GPU path, and if not, what is missing.</summary>
/// <param name="IsAvailable">True when the driver loaded and at least one device exists.</param>
/// <param name="Reason">Empty when available; otherwise a one-line message naming what is missing.</param>
/// <param name="DeviceCount">CUDA devices seen (0 when unavailable).</param>
public sealed record GpuAvailability(bool IsAvailable, string Reason, int DeviceCount);
