namespace TierKv.Benchmarks;

/// <summary>Assertions for <see cref="SmokeCheck"/>: a failed one throws with what was expected.</summary>
internal static class Require
{
    public static void True(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"Benchmark check failed: {what}.");
        }
    }

    public static void Equal<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            throw new InvalidOperationException($"Benchmark check failed: {what}: expected {expected}, got {actual}.");
        }
    }
}
