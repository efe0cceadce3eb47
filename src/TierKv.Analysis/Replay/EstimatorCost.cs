using TierKv.Analysis.Traces;
using TierKv.Metrics;

namespace TierKv.Analysis.Replay;

/// <summary>
/// What the live curve estimator costs a replay: pairs of replays with it off and on, back to back (off, on, then on,
/// off, ...), so that drift in a shared machine's speed falls on both of a pair alike. The pairs are taken two at a time
/// (off, on, on, off): each such quartet's ratio is the geometric mean of its two pairs' throughput ratios, so an effect
/// of going first or second (warm caches, a collection the first replay left behind) cancels instead of tilting the
/// figure; the ratio is the median over the quartets (the ratio of the median times is reported beside it). An odd
/// number of pairs is rounded up: with 7, four pairs ran off first and three on first, and the median of the seven
/// leaned towards whichever order happened to favour the estimator.
/// </summary>
/// <param name="Reps">Replays of each kind (even).</param>
/// <param name="OnSeconds">Median replay time with the estimator.</param>
/// <param name="OffSeconds">Median replay time without it.</param>
/// <param name="OnCpuSeconds">Median processor time of this process during a replay with it (every thread).</param>
/// <param name="OffCpuSeconds">Median processor time of this process during a replay without it.</param>
/// <param name="ThroughputRatio">Throughput with the estimator over throughput without it (1: free): the median of the pairs' ratios.</param>
/// <remarks>
/// With the estimator on its background thread (<see cref="TierKv.Curves.MissRatioCurveOptions.Background"/>) the wall
/// time measures the serving path; the estimator's own processor time is <see cref="EstimatorCpuSeconds"/> beside it,
/// and is in <see cref="OnCpuSeconds"/> (every thread of the process).
/// </remarks>
public sealed record EstimatorCost(int Reps, double OnSeconds, double OffSeconds, double OnCpuSeconds, double OffCpuSeconds, double ThroughputRatio)
{
    /// <summary>Median processor time of the estimator's background thread during a replay with it (null inline or off Linux).</summary>
    public double? EstimatorCpuSeconds { get; init; }

    /// <summary>
    /// The throughput ratio in processor time of the replay's own thread (the serving path, which with the estimator in
    /// the background carries only the ring's appends), by quartets as <see cref="ThroughputRatio"/>: unlike wall time
    /// it does not count time the thread waited for a core. Null where that clock is unavailable.
    /// </summary>
    public double? ServingCpuThroughputRatio { get; init; }

    /// <summary>Times, over every replay with the estimator, that the replay found its ring full and simulated a batch itself.</summary>
    public long InlineDrains { get; init; }

    /// <summary>
    /// The same ratio in processor time: on a machine shared with other work, wall time mostly measures the share of a
    /// core the replay got, which this does not.
    /// </summary>
    public double CpuThroughputRatio => OnCpuSeconds <= 0 ? 0 : OffCpuSeconds / OnCpuSeconds;

    /// <summary>The ratio of the median times (off over on).</summary>
    public double MedianTimeRatio => OnSeconds <= 0 ? 0 : OffSeconds / OnSeconds;

    /// <summary>
    /// Measures <paramref name="reps"/> replays of each kind (rounded up to an even number) of <paramref name="options"/>
    /// (DRAM only) over <paramref name="trace"/>.
    /// </summary>
    public static async Task<EstimatorCost> MeasureAsync(RequestTrace trace, ReplayOptions options, int reps, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        reps += reps % 2;
        var curves = options.Curves ?? new TierKv.Curves.MissRatioCurveOptions();
        var on = new double[reps];
        var off = new double[reps];
        var onCpu = new double[reps];
        var offCpu = new double[reps];
        var estimatorCpu = new double[reps];
        var onServing = new double[reps];
        var offServing = new double[reps];
        bool measuredEstimator = true, measuredServing = true;
        long inlineDrains = 0;
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        for (int r = 0; r < reps; r++)
        {
            for (int half = 0; half < 2; half++)
            {
                bool withEstimator = (half == 0) == (r % 2 == 1);
                using var replayer = new TraceReplayer(trace, options with { Curves = withEstimator ? curves : null, SsdBlocks = 0 });
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                int thread = Environment.CurrentManagedThreadId;
                double? serving = ThreadCpuClock.Now();
                var result = await replayer.RunAsync(cancellationToken: cancellationToken).ConfigureAwait(false);

                // The replay's own thread, when it ran on one (a DRAM-only replay completes synchronously).
                double? servingAfter = ThreadCpuClock.Now();
                measuredServing &= serving.HasValue && servingAfter.HasValue && Environment.CurrentManagedThreadId == thread;
                (withEstimator ? onServing : offServing)[r] = (servingAfter - serving) ?? 0;
                process.Refresh();
                (withEstimator ? on : off)[r] = result.Seconds;
                (withEstimator ? onCpu : offCpu)[r] = (process.TotalProcessorTime - cpu).TotalSeconds;
                if (withEstimator)
                {
                    measuredEstimator &= result.CurveCpuSeconds.HasValue;
                    estimatorCpu[r] = result.CurveCpuSeconds ?? 0;
                    inlineDrains += result.CurveInlineDrains;
                }
            }
        }

        // Before the medians, which sort their arrays in place.
        double ratio = QuartetRatio(on, off);
        double? servingRatio = measuredServing ? QuartetRatio(onServing, offServing) : null;
        return new EstimatorCost(reps, Median(on), Median(off), Median(onCpu), Median(offCpu), ratio)
        {
            EstimatorCpuSeconds = measuredEstimator ? Median(estimatorCpu) : null,
            InlineDrains = inlineDrains,
            ServingCpuThroughputRatio = servingRatio,
        };
    }

    /// <summary>
    /// The median over quartets (pair 2q ran off first, pair 2q + 1 on first) of the geometric mean of their two
    /// throughput ratios (off time over on time). <paramref name="on"/> and <paramref name="off"/> have an even length.
    /// </summary>
    internal static double QuartetRatio(ReadOnlySpan<double> on, ReadOnlySpan<double> off)
    {
        var quartets = new double[on.Length / 2];
        for (int q = 0; q < quartets.Length; q++)
        {
            double a = Ratio(on[2 * q], off[2 * q]);
            double b = Ratio(on[(2 * q) + 1], off[(2 * q) + 1]);
            quartets[q] = Math.Sqrt(a * b);
        }

        return Median(quartets);
    }

    private static double Ratio(double on, double off) => on <= 0 ? 0 : off / on;

    private static double Median(double[] values)
    {
        Array.Sort(values);
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }
}
