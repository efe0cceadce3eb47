namespace TierKv.Cli;

/// <summary>Throughput of an operation that moves a known number of bytes, timed over repetitions.</summary>
internal static class Throughput
{
    /// <summary>
    /// Runs <paramref name="operation"/> <paramref name="reps"/> + 1 times and returns the GB/s of each run but the first
    /// (a warm-up: page faults, JIT, cold caches). <paramref name="untimed"/>, when given, runs before each run, outside
    /// the timing (resetting what the operation changes).
    /// </summary>
    public static List<double> GBps(int reps, long bytes, Action operation, Action? untimed = null)
    {
        var samples = new List<double>(reps);
        for (int r = 0; r < reps + 1; r++)
        {
            untimed?.Invoke();
            long t0 = Stopwatch.GetTimestamp();
            operation();
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (r > 0)
            {
                samples.Add(bytes / s / 1e9);
            }
        }

        return samples;
    }
}
