using TierKv.Curves;
using TierKv.Eviction;
using TierKv.Memory;
using TierKv.Metrics;
using TierKv.Store;
using TierKv.Tiers;
using TierKv.Tiers.Slots;

namespace TierKv.Nvme;

/// <summary>Settings of the standard DRAM + SSD stack that <see cref="TierStackBuilder"/> builds.</summary>
public sealed record TierStackOptions
{
    /// <summary>
    /// Data folder; the SSD tier keeps its files in its <c>ssd</c> subfolder. Required when <see cref="SsdCapacityBytes"/>
    /// is positive, unless <see cref="SsdDirectory"/> names the SSD folder itself.
    /// </summary>
    public string DataDirectory { get; init; } = "";

    /// <summary>The SSD tier's own folder, instead of <see cref="DataDirectory"/>'s <c>ssd</c> subfolder (the daemon keeps one per tenant and size class).</summary>
    public string? SsdDirectory { get; init; }

    /// <summary>Appended to the tiers' names (<c>dram</c>, <c>ssd</c>): the daemon names a tenant's tiers <c>dram.&lt;tenant&gt;</c>.</summary>
    public string TierSuffix { get; init; } = "";

    /// <summary>The DRAM tier's live miss-ratio curve (none when null).</summary>
    public MissRatioCurveOptions? DramCurves { get; init; }

    /// <summary>The SSD tier's live miss-ratio curve (none when null).</summary>
    public MissRatioCurveOptions? SsdCurves { get; init; }

    /// <summary>Makes a tier to put below the SSD (a remote cluster), given the stack's metrics; none when null.</summary>
    public Func<TierKvMetrics, IKvTier>? Below { get; init; }

    /// <summary>The priorities and pins the store shares (with another store of the same tenant); a new registry when null.</summary>
    public ChunkPriorities? Priorities { get; init; }

    /// <summary>Bytes of the DRAM pool. Required.</summary>
    public long DramCapacityBytes { get; init; }

    /// <summary>Payload bytes of the SSD tier; 0 for DRAM only.</summary>
    public long SsdCapacityBytes { get; init; }

    /// <summary>Largest chunk payload (the layout's <c>ChunkBytes</c>): the slot size of both tiers. Required.</summary>
    public int ChunkBytes { get; init; }

    /// <summary>Eviction policy of the DRAM tier.</summary>
    public string DramEvictionPolicy { get; init; } = EvictionPolicies.Default;

    /// <summary>Eviction policy of the SSD tier.</summary>
    public string SsdEvictionPolicy { get; init; } = EvictionPolicies.Default;

    /// <summary>SSD reads and writes in flight.</summary>
    public int SsdQueueDepth { get; init; } = 8;

    /// <summary>Use <c>O_DIRECT</c> on the SSD where the file system allows it.</summary>
    public bool UseDirectIo { get; init; } = true;

    /// <summary>Where the DRAM pool comes from (pinned memory when a GPU is present).</summary>
    public IHostMemoryAllocator Allocator { get; init; } = NativeHostMemoryAllocator.Instance;

    /// <summary>Store policies: write-back or write-through, admission, promotion, prefetch bounds.</summary>
    public TieredStoreOptions Store { get; init; } = new();

    /// <summary>Where the SSD tier's few log lines go; standard error when null.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (ChunkBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, "ChunkBytes must be the layout's chunk size (positive).");
        }

        if (DramCapacityBytes < ChunkBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(DramCapacityBytes), DramCapacityBytes, $"DramCapacityBytes must hold at least one chunk of {ChunkBytes} bytes.");
        }

        if (SsdCapacityBytes < 0 || (SsdCapacityBytes > 0 && SsdCapacityBytes < ChunkBytes))
        {
            throw new ArgumentOutOfRangeException(nameof(SsdCapacityBytes), SsdCapacityBytes, $"SsdCapacityBytes must be 0 (no SSD tier) or hold at least one chunk of {ChunkBytes} bytes.");
        }

        if (SsdCapacityBytes > 0 && string.IsNullOrWhiteSpace(DataDirectory) && string.IsNullOrWhiteSpace(SsdDirectory))
        {
            throw new ArgumentException("TierStackOptions.DataDirectory (or SsdDirectory) must name a folder when the SSD tier is on.", nameof(DataDirectory));
        }

        Store.Validate();
    }
}
