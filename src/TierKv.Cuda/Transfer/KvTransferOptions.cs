namespace TierKv.Cuda.Transfer;

/// <summary>Settings of a <see cref="LayerwiseKvTransfer"/>.</summary>
public sealed record KvTransferOptions
{
    /// <summary>Staged (DMA plus kernel on device memory) or mapped (kernel on host memory).</summary>
    public TransferPath Path { get; init; } = TransferPath.Staged;

    /// <summary>
    /// Layers moved per DMA copy on the staged path; 0 picks the fewest layers whose bytes per chunk reach
    /// <see cref="MinCopyBytes"/>. One layer gives the finest pipelining; larger groups make larger copies when the
    /// chunks sit in separate pool slots (small pieces cost PCIe speed: 32 KiB pieces ran at 10 GB/s, 512 KiB at 42).
    /// </summary>
    public int LayersPerGroup { get; init; }

    /// <summary>Bytes per chunk a copy should reach when <see cref="LayersPerGroup"/> is 0.</summary>
    public long MinCopyBytes { get; init; } = 4L << 20;

    /// <summary>Staging slots per direction (2 = double buffering).</summary>
    public int StagingDepth { get; init; } = 2;

    /// <summary>Threads per block of the kernels.</summary>
    public int ThreadsPerBlock { get; init; } = 256;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (LayersPerGroup < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(LayersPerGroup), LayersPerGroup, "LayersPerGroup must be 0 (automatic) or positive.");
        }

        if (MinCopyBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MinCopyBytes), MinCopyBytes, "MinCopyBytes must be positive.");
        }

        if (StagingDepth is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(StagingDepth), StagingDepth, "StagingDepth must be in [1, 64].");
        }

        if (ThreadsPerBlock is < 32 or > 256 || ThreadsPerBlock % 32 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ThreadsPerBlock), ThreadsPerBlock, "ThreadsPerBlock must be a multiple of 32 in [32, 256] (the kernels are built for at most 256).");
        }
    }
}
