namespace TierKv.Cli.Commands.Probe;

/// <summary>What <c>tierkv probe</c> was asked for, handed to every <see cref="IProbeMedium"/>.</summary>
/// <param name="Directory">Scratch directory on the SSD.</param>
/// <param name="Quick">Smaller volumes (for tests and slow machines).</param>
/// <param name="Log">Progress lines (null with <c>--json</c>).</param>
internal sealed record ProbeContext(string Directory, bool Quick, Action<string>? Log);
