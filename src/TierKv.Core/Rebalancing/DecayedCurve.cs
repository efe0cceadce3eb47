using TierKv.Curves;

namespace TierKv.Rebalancing;

/// <summary>
/// A tenant's recent curve from its live estimator's cumulative one: the hits at each size and the accesses since the
/// last step are added to exponentially decayed sums (decay 1: the whole history; 0: the last interval only), so the
/// rebalancer follows a workload that changes instead of the average since start. The estimator's recency stack is
/// not windowed, so a reuse from before the window still counts at its true distance.
/// </summary>
public sealed class DecayedCurve
{
    private double[] _lastHits = [];
    private double[] _hits = [];
    private double _lastAccesses;
    private double _accesses;

    /// <summary>Folds in the estimate now (<paramref name="points"/> after <paramref name="accesses"/> accesses); returns the recent curve and its weight in accesses.</summary>
    public (CapacityCurve Curve, double Weight) Update(IReadOnlyList<CurvePoint> points, string policy, long accesses, double decay)
    {
        var mine = CapacityCurve.PointsOf(points, policy);
        if (_hits.Length != mine.Count)
        {
            _lastHits = new double[mine.Count];
            _hits = new double[mine.Count];
        }

        for (int i = 0; i < mine.Count; i++)
        {
            double cumulative = mine[i].HitRatio * accesses;
            _hits[i] = (decay * _hits[i]) + (cumulative - _lastHits[i]);
            _lastHits[i] = cumulative;
        }

        _accesses = (decay * _accesses) + (accesses - _lastAccesses);
        _lastAccesses = accesses;
        for (int i = 0; i < mine.Count; i++)
        {
            mine[i] = (mine[i].Slots, _accesses > 0 ? Math.Clamp(_hits[i] / _accesses, 0, 1) : 0);
        }

        return (new CapacityCurve(mine), _accesses);
    }
}
