namespace TierKv.Cli.Commands.Probe;

/// <summary>
/// One medium that <c>tierkv probe</c> measures. To add one (the remote tier, the GPU link), implement this and add an
/// instance to <see cref="ProbeMedia.All"/>.
/// </summary>
internal interface IProbeMedium
{
    /// <summary>Short name in the table and JSON, e.g. <c>dram</c>, <c>ssd</c>, <c>remote</c>, <c>gpu-link</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Measures the medium; returns null when it is not configured (no <c>--remote</c>), or
    /// <see cref="ProbeMeasurement.Absent"/> when it is expected but missing or unreachable (no GPU, a silent cluster),
    /// so the table and JSON say why.
    /// </summary>
    ProbeMeasurement? Measure(ProbeContext context);
}
