using TierKv.Curves;

namespace TierKv.Rebalancing;

/// <summary>
/// A tenant's hit ratio as a function of its capacity in slots: the points of a live curve joined by straight lines,
/// from (0, 0) to the largest size estimated and flat beyond it (no gain is claimed where nothing was measured).
/// </summary>
public sealed class CapacityCurve
{
    private readonly double[] _slots;
    private readonly double[] _ratios;

    /// <summary>A curve through <paramref name="points"/> (capacity in slots, hit ratio), in any order.</summary>
    public CapacityCurve(IEnumerable<(double Slots, double HitRatio)> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var sorted = new SortedDictionary<double, double> { [0] = 0 };
        foreach (var (slots, ratio) in points)
        {
            if (!double.IsFinite(slots) || slots <= 0 || !double.IsFinite(ratio) || ratio < 0 || ratio > 1)
            {
                throw new ArgumentOutOfRangeException(nameof(points), (slots, ratio), "A curve point needs a positive size and a hit ratio in [0, 1].");
            }

            sorted[slots] = ratio;
        }

        _slots = [.. sorted.Keys];
        _ratios = [.. sorted.Values];
    }

    /// <summary>The curve of <paramref name="policy"/> in a live estimate; LRU's when the estimate has no such policy.</summary>
    public static CapacityCurve FromEstimate(IReadOnlyList<CurvePoint> points, string policy) => new(PointsOf(points, policy));

    /// <summary>The (size, hit ratio) points of <paramref name="policy"/> in a live estimate (LRU's when it has no such policy), by size.</summary>
    public static List<(double Slots, double HitRatio)> PointsOf(IReadOnlyList<CurvePoint> points, string policy)
    {
        ArgumentNullException.ThrowIfNull(points);
        bool has = false;
        foreach (var p in points)
        {
            has |= p.Policy == policy;
        }

        string chosen = has ? policy : "lru";
        var mine = new List<(double Slots, double HitRatio)>();
        foreach (var p in points)
        {
            if (p.Policy == chosen)
            {
                mine.Add((p.Capacity, p.HitRatio));
            }
        }

        mine.Sort();
        return mine;
    }

    /// <summary>The largest size the curve was estimated at.</summary>
    public double LargestSlots => _slots[^1];

    /// <summary>The hit ratio at <paramref name="slots"/>.</summary>
    public double HitRatioAt(double slots)
    {
        if (slots <= 0)
        {
            return 0;
        }

        if (slots >= _slots[^1])
        {
            return _ratios[^1];
        }

        int i = Array.BinarySearch(_slots, slots);
        if (i >= 0)
        {
            return _ratios[i];
        }

        int hi = ~i;
        int lo = hi - 1;
        double f = (slots - _slots[lo]) / (_slots[hi] - _slots[lo]);
        return _ratios[lo] + (f * (_ratios[hi] - _ratios[lo]));
    }
}
