namespace TierKv.Analysis.Replay;

/// <summary>Settings of a <see cref="TraceReplayer"/>.</summary>
public sealed record ReplayOptions
{
    /// <summary>Eviction policy of the tiers (default: TierKV's default policy).</summary>
    public string Policy { get; init; } = TierKv.Eviction.EvictionPolicies.Default;

    /// <summary>DRAM tier capacity in blocks.</summary>
    public int DramBlocks { get; init; } = 5859;

    /// <summary>SSD tier capacity in blocks; 0 for DRAM only.</summary>
    public int SsdBlocks { get; init; }

    /// <summary>Folder for the SSD tier's files (required when <see cref="SsdBlocks"/> is positive).</summary>
    public string? SsdDirectory { get; init; }

    /// <summary>Use O_DIRECT on the SSD tier (falls back when the file system refuses it).</summary>
    public bool SsdDirectIo { get; init; } = true;

    /// <summary>What the store does when the SSD tier's write-behind queue is full (wait for room, bounded, or shed at once).</summary>
    public TierKv.Store.WriteBackOverflow WriteBackOverflow { get; init; } = new TierKv.Store.TieredStoreOptions().WriteBackOverflow;

    /// <summary>Live miss-ratio curves of the DRAM tier (DRAM-only replays); null: off.</summary>
    public TierKv.Curves.MissRatioCurveOptions? Curves { get; init; }

    /// <summary>Synthetic payload bytes per block: a positive multiple of 256.</summary>
    public int ChunkBytes { get; init; } = 4096;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (DramBlocks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DramBlocks), DramBlocks, "--dram-blocks must be at least 1.");
        }

        if (ChunkBytes < 256 || ChunkBytes % 256 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, "--chunk-bytes must be a positive multiple of 256.");
        }

        if (SsdBlocks < 0 || (SsdBlocks > 0 && string.IsNullOrWhiteSpace(SsdDirectory)))
        {
            throw new ArgumentException("--ssd-blocks needs --ssd-dir (a folder for the SSD tier's files) and must not be negative.", nameof(SsdBlocks));
        }
    }
}
