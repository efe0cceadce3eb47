using TierKv.Cuda;

namespace TierKv.Cli.Commands.Probe;

/// <summary>
/// The host-to-GPU link (PCIe or NVLink-C2C): large pinned copies each way, as <c>tierkv bench gpu</c>'s ceilings, and
/// the latency of one small pinned copy with its wait. Without a usable GPU it reports why instead of failing.
/// </summary>
internal sealed class GpuLinkProbeMedium : IProbeMedium
{
    private const int Piece = 256 << 20;
    private const int Small = 4096;

    public string Name => "gpu-link";

    public ProbeMeasurement? Measure(ProbeContext context)
    {
        var availability = CudaDevice.Probe();
        if (!availability.IsAvailable)
        {
            return NoGpu(availability.Reason);
        }

        try
        {
            return MeasureOn(context);
        }
        catch (GpuUnavailableException ex)
        {
            // The driver sees a GPU but opening it failed (NVRTC missing, for one): say so rather than "no GPU".
            return ProbeMeasurement.Absent(Name, $"GPU link: GPU present but not usable ({ex.Message.TrimEnd('.')})");
        }
        catch (CudaException ex)
        {
            // A driver that loads but refuses the copies (out of memory, a busy device) is a finding, not a crash.
            return ProbeMeasurement.Absent(Name, $"GPU link: not measured ({ex.Message})");
        }
    }

    private ProbeMeasurement NoGpu(string reason) => ProbeMeasurement.Absent(Name, $"GPU link: no CUDA GPU here ({reason.TrimEnd('.')})");

    private ProbeMeasurement MeasureOn(ProbeContext context)
    {
        long bytes = context.Quick ? 256L << 20 : 1L << 30;
        int reps = context.Quick ? 3 : 5;
        using var device = CudaDevice.Open(0);
        context.Log?.Invoke($"gpu-link: {device}; {bytes >> 20} MiB in {Piece >> 20} MiB pinned copies");
        using var host = new PinnedHostBuffer(device, bytes);
        using var gpu = new DeviceBuffer(device, bytes);
        for (long off = 0; off < bytes; off += Piece)
        {
            host.AsSpan(off, Piece).Fill(0x5A);
        }

        var h2d = new List<double>();
        var d2h = new List<double>();

        // The first pass warms the driver's paths and the IOMMU mappings; it is not counted.
        for (int r = 0; r <= reps; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (long off = 0; off < bytes; off += Piece)
            {
                gpu.CopyFrom(host.AsSpan(off, Piece), off);
            }

            double up = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            t0 = Stopwatch.GetTimestamp();
            for (long off = 0; off < bytes; off += Piece)
            {
                gpu.CopyTo(host.AsSpan(off, Piece), off);
            }

            double down = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (r > 0)
            {
                h2d.Add(bytes / up / 1e9);
                d2h.Add(bytes / down / 1e9);
            }
        }

        var lat = new List<double>();
        var small = host.AsSpan(0, Small);
        for (int i = 0; i < (context.Quick ? 200 : 1000) + 10; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            gpu.CopyFrom(small, (long)(i % 64) * Small);
            double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            if (i >= 10)
            {
                lat.Add(us);
            }
        }

        return new ProbeMeasurement(
            Name,
            Stats.Median(h2d),
            Stats.Median(d2h),
            Stats.Median(lat),
            $"{device.Name}: read = host to device, write = device to host, {Piece >> 20} MiB pinned copies; latency of one {Small >> 10} KiB pinned copy and its wait");
    }
}
