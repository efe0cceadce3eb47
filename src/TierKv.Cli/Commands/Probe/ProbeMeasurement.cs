namespace TierKv.Cli.Commands.Probe;

/// <summary>A medium's measured figures, all from this machine in this run.</summary>
/// <param name="Medium">The medium's name.</param>
/// <param name="ReadGbs">Sequential read throughput in large pieces, GB/s.</param>
/// <param name="WriteGbs">Sequential write throughput in large pieces, GB/s.</param>
/// <param name="LatencyUs">Median latency of one small random access, microseconds.</param>
/// <param name="Detail">How it was measured (I/O mode, piece sizes).</param>
internal sealed record ProbeMeasurement(string Medium, double ReadGbs, double WriteGbs, double LatencyUs, string Detail);
