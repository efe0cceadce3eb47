using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Nvme;

/// <summary>
/// Builds the standard tier stack: DRAM first, then the local SSD in a data folder (warm after a restart), then
/// optionally a tier below (a remote cluster). The daemon builds every tenant's stores with it.
/// </summary>
public static class TierStackBuilder
{
    /// <summary>The subfolder of the data folder that holds the SSD tier's files.</summary>
    public const string SsdFolder = "ssd";

    /// <summary>
    /// Opens the stack. The returned store owns its tiers: disposing it waits for background writes and closes the
    /// SSD files. Throws <see cref="IOException"/> when the SSD folder is in use by another process.
    /// </summary>
    public static TieredStore Build(TierStackOptions options, TierKvMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        metrics ??= new TierKvMetrics();
        var tiers = new List<IKvTier>(3);
        var dram = new HostMemoryTier(
            new HostMemoryTierOptions
            {
                CapacityBytes = options.DramCapacityBytes,
                SlotBytes = options.ChunkBytes,
                EvictionPolicy = options.DramEvictionPolicy,
                Allocator = options.Allocator,
                Name = "dram" + options.TierSuffix,
                Curves = options.DramCurves,
            },
            metrics);
        tiers.Add(dram);
        try
        {
            if (options.SsdCapacityBytes > 0)
            {
                tiers.Add(new NvmeTier(
                    new NvmeTierOptions
                    {
                        Directory = options.SsdDirectory ?? Path.Combine(options.DataDirectory, SsdFolder),
                        CapacityBytes = options.SsdCapacityBytes,
                        SlotBytes = options.ChunkBytes,
                        QueueDepth = options.SsdQueueDepth,
                        EvictionPolicy = options.SsdEvictionPolicy,
                        UseDirectIo = options.UseDirectIo,
                        Log = options.Log,
                        Name = "ssd" + options.TierSuffix,
                        Curves = options.SsdCurves,
                    },
                    metrics));
            }

            if (options.Below is { } below)
            {
                tiers.Add(below(metrics));
            }

            return new TieredStore(tiers, metrics, options.Store, ownsTiers: true, priorities: options.Priorities);
        }
        catch
        {
            foreach (var t in tiers)
            {
                t.Dispose();
            }

            throw;
        }
    }

    /// <summary>DRAM + SSD for one model layout with the default policies.</summary>
    public static TieredStore ForLayout(string dataDirectory, KvLayout layout, long dramBytes, long ssdBytes, TierKvMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return Build(new TierStackOptions { DataDirectory = dataDirectory, DramCapacityBytes = dramBytes, SsdCapacityBytes = ssdBytes, ChunkBytes = layout.ChunkBytes }, metrics);
    }
}
