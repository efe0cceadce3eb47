using TierKv.Analysis.Traces;

namespace TierKv.Analysis.Replay;

/// <summary>
/// What the live curve estimator costs a replay: pairs of replays with it off and on, back to back (off, on, then on,
/// off, ...), so that drift in a shared machine's speed falls on both of a pair alike; the ratio is the median over the
/// pairs of each pair's throughput ratio (the ratio of the median times is reported beside it).
/// </summary>
/// <param name="Reps">Replays of each kind.</param>
/// <param name="OnSeconds">Median replay time with the estimator.</param>
/// <param name="OffSeconds">Median replay time without it.</param>
/// <param name="OnCpuSeconds">Median processor time of this process during a replay with it (every thread).</param>
/// <param name="OffCpuSeconds">Median processor time of this process during a replay without it.</param>
/// <param name="ThroughputRatio">Throughput with the estimator over throughput without it (1: free): the median of the pairs' ratios.</param>
public sealed record EstimatorCost(int Reps, double OnSeconds, double OffSeconds, double OnCpuSeconds, double OffCpuSeconds, double ThroughputRatio)
{
    /// <summary>
    /// The same ratio in processor time: on a machine shared with other work, wall time mostly measures the share of a
    /// core the replay got, which this does not.
    /// </summary>
    public double CpuThroughputRatio => OnCpuSeconds <= 0 ? 0 : OffCpuSeconds / OnCpuSeconds;

    /// <summary>The ratio of the median times (off over on).</summary>
    public double MedianTimeRatio => OnSeconds <= 0 ? 0 : OffSeconds / OnSeconds;

    /// <summary>Measures <paramref name="reps"/> replays of each kind of <paramref name="options"/> (DRAM only) over <paramref name="trace"/>.</summary>
    public static async Task<EstimatorCost> MeasureAsync(RequestTrace trace, ReplayOptions options, int reps, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        var curves = options.Curves ?? new TierKv.Curves.MissRatioCurveOptions();
        var on = new double[reps];
        var off = new double[reps];
        var onCpu = new double[reps];
        var offCpu = new double[reps];
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        for (int r = 0; r < reps; r++)
        {
            for (int half = 0; half < 2; half++)
            {
                bool withEstimator = (half == 0) == (r % 2 == 1);
                using var replayer = new TraceReplayer(trace, options with { Curves = withEstimator ? curves : null, SsdBlocks = 0 });
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                var result = await replayer.RunAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                process.Refresh();
                (withEstimator ? on : off)[r] = result.Seconds;
                (withEstimator ? onCpu : offCpu)[r] = (process.TotalProcessorTime - cpu).TotalSeconds;
            }
        }

        var pairs = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            pairs[r] = on[r] <= 0 ? 0 : off[r] / on[r];
        }

        return new EstimatorCost(reps, Median(on), Median(off), Median(onCpu), Median(offCpu), Median(pairs));
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }
}
