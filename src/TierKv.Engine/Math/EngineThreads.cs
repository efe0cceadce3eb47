namespace TierKv.Engine.Math;

/// <summary>How many threads the engine's kernels use (all cores unless set).</summary>
public static class EngineThreads
{
    private static int s_count = Environment.ProcessorCount;

    /// <summary>Threads per kernel; at least 1.</summary>
    public static int Count
    {
        get => s_count;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            s_count = value;
            Options = new ParallelOptions { MaxDegreeOfParallelism = value };
        }
    }

    /// <summary>Options passed to <see cref="Parallel"/> loops.</summary>
    public static ParallelOptions Options { get; private set; } = new() { MaxDegreeOfParallelism = Environment.ProcessorCount };
}
