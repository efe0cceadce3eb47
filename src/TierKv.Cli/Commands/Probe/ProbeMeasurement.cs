namespace TierKv.Cli.Commands.Probe;

/// <summary>A medium's measured figures, all from this machine in this run, or why it could not be measured.</summary>
/// <param name="Medium">The medium's name.</param>
/// <param name="ReadGbs">Sequential read throughput in large pieces, GB/s.</param>
/// <param name="WriteGbs">Sequential write throughput in large pieces, GB/s.</param>
/// <param name="LatencyUs">Median latency of one small random access, microseconds.</param>
/// <param name="Detail">How it was measured (I/O mode, piece sizes), or, when <paramref name="Unavailable"/>, why not.</param>
/// <param name="Unavailable">True when the medium is configured or expected but could not be measured here; the
/// figures are then NaN and the medium takes no part in the load-or-recompute verdicts.</param>
internal sealed record ProbeMeasurement(string Medium, double ReadGbs, double WriteGbs, double LatencyUs, string Detail, bool Unavailable = false)
{
    /// <summary>A medium that is expected (a GPU link, a configured remote tier) but absent or unreachable.</summary>
    public static ProbeMeasurement Absent(string medium, string reason) => new(medium, double.NaN, double.NaN, double.NaN, reason, Unavailable: true);
}
