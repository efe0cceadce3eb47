
namespace TierKv.Tiers;

/// <summary>
/// A tier that records its own events (evictions, damage, I/O errors, rejections). A <c>TieredStore</c> attaches its
/// metrics to each such tier, so a tier built without metrics still reports into the store's.
/// </summary>
public interface IMetricsAware
{
    /// <summary>Records into <paramref name="metrics"/> from now on, unless metrics were already attached.</summary>
    void AttachMetrics(TierKvMetrics metrics);
}
