namespace TierKv.Cli.Commands.Probe;

/// <summary>
/// One medium that <c>tierkv probe</c> measures. To add one (the remote tier, the GPU link), implement this and add an
/// instance to <see cref="ProbeMedia.All"/>; return null from <see cref="Measure"/> when the medium is not present.
/// </summary>
internal interface IProbeMedium
{
    /// <summary>Short name in the table and JSON, e.g. <c>dram</c>, <c>ssd</c>, <c>remote</c>, <c>gpu-link</c>.</summary>
    string Name { get; }

    /// <summary>Measures the medium, or returns null when it is absent or not configured.</summary>
    ProbeMeasurement? Measure(ProbeContext context);
}
