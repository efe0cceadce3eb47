namespace TierKv.Benchmarks;

/// <summary>Managed bytes a warmed-up operation allocates on the calling thread (for <see cref="SmokeCheck"/>).</summary>
internal static class Allocations
{
    public static double PerOp<T>(Func<T> operation, int count = 1000)
    {
        operation();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < count; i++)
        {
            operation();
        }

        return (double)(GC.GetAllocatedBytesForCurrentThread() - before) / count;
    }

    /// <summary>Requires that <paramref name="operation"/> allocates nothing per call in steady state.</summary>
    public static void RequireNone<T>(Func<T> operation, string what, int count = 1000)
    {
        double perOp = PerOp(operation, count);
        Require.True(perOp == 0, $"{what} allocates nothing per call (measured {perOp:F1} B)");
    }
}
