namespace TierKv.Cli.Commands.Probe;

/// <summary>What <c>tierkv probe</c> was asked for, handed to every <see cref="IProbeMedium"/>.</summary>
/// <param name="Directory">Scratch directory on the SSD.</param>
/// <param name="Quick">Smaller volumes (for tests and slow machines).</param>
/// <param name="Log">Progress lines (null with <c>--json</c>).</param>
/// <param name="Layout">The model shape's layout: media that move whole chunks use its chunk size.</param>
/// <param name="RemoteEndpoints">The remote tier's <c>HOST:PORT[,...]</c> from <c>--remote</c>; null when not configured.</param>
internal sealed record ProbeContext(string Directory, bool Quick, Action<string>? Log, KvLayout Layout, string? RemoteEndpoints = null);
