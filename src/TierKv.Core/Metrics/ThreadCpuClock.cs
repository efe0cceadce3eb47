using System.Runtime.InteropServices;

namespace TierKv.Metrics;

/// <summary>
/// CPU time the calling thread has run (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>): time a thread spends descheduled does
/// not count, so a measurement on a loaded machine is not inflated by other processes. Null where unavailable.
/// </summary>
public static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    /// <summary>Seconds of CPU time of the calling thread, or null off Linux.</summary>
    public static double? Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        return ClockGetTime(ClockThreadCpuTimeId, out var ts) == 0 ? ts.Seconds + (ts.Nanoseconds * 1e-9) : null;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
