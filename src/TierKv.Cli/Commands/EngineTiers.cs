using TierKv.Engine.Planning;
using TierKv.Nvme;
using TierKv.Store;

namespace TierKv.Cli.Commands;

/// <summary>
/// The DRAM and SSD tiers the engine commands (<c>demo</c>, <c>generate</c>) run on, in a data folder kept between
/// runs so a second run starts warm.
/// </summary>
internal static class EngineTiers
{
    /// <summary>The data folder: <paramref name="data"/> (from <c>--data</c>), or <paramref name="name"/> under the temp directory.</summary>
    public static string DataFolder(string? data, string name) => Path.GetFullPath(data ?? Path.Combine(Path.GetTempPath(), name));

    /// <summary>Opens DRAM (and, when <paramref name="ssdBytes"/> is above 0, SSD) tiers in <paramref name="data"/>; their messages go to <paramref name="log"/>.</summary>
    public static TieredStore Open(string data, long dramBytes, long ssdBytes, int chunkBytes, IAnsiConsole log) => TierStackBuilder.Build(new TierStackOptions
    {
        DataDirectory = data,
        DramCapacityBytes = dramBytes,
        SsdCapacityBytes = ssdBytes,
        ChunkBytes = chunkBytes,
        Log = log.Grey,
    });

    /// <summary>
    /// Measures each tier below DRAM once, so the planner knows the SSD's speed (whether its hits are worth loading)
    /// before the first request rather than probing; DRAM starts from a conservative prior and is measured by every load.
    /// </summary>
    public static async Task CalibrateAsync(TieredStore store, KvLayout layout, LoadPlanner planner, Action<string>? progress, CancellationToken cancellationToken)
    {
        foreach (var tier in store.Tiers.Skip(1))
        {
            if (await TierCalibration.MeasureAsync(tier, layout, planner, 4, cancellationToken).ConfigureAwait(false) is { } rd)
            {
                progress?.Invoke($"calibrated {rd.Tier}: {rd.Bytes / rd.Seconds / 1e9:F2} GB/s read");
            }
        }
    }
}
