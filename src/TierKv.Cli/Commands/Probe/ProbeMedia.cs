namespace TierKv.Cli.Commands.Probe;

/// <summary>The media <c>tierkv probe</c> measures, fastest first. Other components add theirs here.</summary>
internal static class ProbeMedia
{
    public static IReadOnlyList<IProbeMedium> All { get; } =
    [
        new DramProbeMedium(),
        new GpuLinkProbeMedium(),
        new SsdProbeMedium(),
        new RemoteProbeMedium(),
    ];
}
