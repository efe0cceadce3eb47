namespace TierKv.Cuda.Bench;

/// <summary>Settings of <see cref="GpuTransferBench"/>.</summary>
public sealed record GpuBenchOptions
{
    /// <summary>Model shape (see <c>ModelShapes</c>): its layers, heads, head dim and element type.</summary>
    public string Model { get; init; } = "llama3-8b";

    /// <summary>Tokens of the request moved per repetition (whole chunks).</summary>
    public int Tokens { get; init; } = 16384;

    /// <summary>Tokens per engine page (16 or 32 in vLLM).</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Timed repetitions per measurement; medians are reported.</summary>
    public int Reps { get; init; } = 7;

    /// <summary>GPU ordinal.</summary>
    public int Device { get; init; }

    /// <summary>Also time one <c>cuMemcpy</c> per page (the naive path), once.</summary>
    public bool Naive { get; init; } = true;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (Tokens <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Tokens), Tokens, "--tokens must be positive.");
        }

        if (BlockSize is not (16 or 32))
        {
            throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "--block-size must be 16 or 32.");
        }

        if (Reps is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(Reps), Reps, "--reps must be in [1, 1000].");
        }
    }
}
