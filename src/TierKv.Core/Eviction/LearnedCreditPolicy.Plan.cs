namespace TierKv.Eviction;

/// <summary>
/// Choosing the retention plan after the price is bisected: the kept price's plan, with the capacity it leaves filled
/// by the marginal class as far as the measured occupancy allows.
/// </summary>
public sealed partial class LearnedCreditPolicy
{
    // The fill aims the measured occupancy of chunks within their retention at this fraction of the capacity, and stops
    // while a period ended with that much already within retention: evicting a chunk before its retention costs the
    // short-retention classes first, the ones worth most per slot (docs/analysis.md, "Filling the capacity").
    private const double FillOccupancy = 0.9;

    // At most this many heap entries are read to measure that occupancy (evenly spread over the heap), so a recompute
    // stays O(1) per access at any capacity.
    private const int OccupancySamples = 4096;

    private readonly long[] _tauLong = new long[Classes];
    private readonly double[] _cumLife = new double[Classes * (Ages + 1)];

    // Measured over modelled occupancy of the plan in force (smoothed over recomputes; 0 until measured once).
    private double _occupancyRatio;
    private double _planOccupancy;

    /// <summary>
    /// Sets the new retention times in <c>_tauScratch</c> from the bisected prices: <paramref name="hi"/> (expected
    /// occupancy at most <paramref name="target"/>) and <paramref name="lo"/> (above it). The kept price's plan leaves
    /// part of the capacity to chunks past their retention; the classes whose retention differs at the two prices (the
    /// marginal ones) get the same fraction of the way to their longer retention, so that the modelled occupancy,
    /// corrected by the ratio measured under the previous plan, reaches <see cref="FillOccupancy"/> of the capacity.
    /// </summary>
    private void Plan(double lo, double hi, double target)
    {
        Solve(lo, _tauLong);
        Solve(hi, _tauScratch);
        Cumulate();
        double planned = MeasuredPlanned();
        if (_learned && _planOccupancy > 0)
        {
            double ratio = planned / _planOccupancy;
            _occupancyRatio = _occupancyRatio > 0 ? 0.5 * (_occupancyRatio + ratio) : ratio;
        }

        double kept = Occupancy(0);
        double goal = _occupancyRatio > 0 ? Math.Min(target, FillOccupancy * Limit / _occupancyRatio) : 0;
        double x = 0;
        if (_fill && goal > kept && planned < FillOccupancy * Limit)
        {
            double xl = 0, xh = 1;
            for (int step = 0; step < BisectionSteps; step++)
            {
                double mid = 0.5 * (xl + xh);
                if (Occupancy(mid) > goal)
                {
                    xh = mid;
                }
                else
                {
                    xl = mid;
                }
            }

            x = xl;
            for (int c = 0; c < Classes; c++)
            {
                _tauScratch[c] = (long)Math.Round(Retention(c, x) * _bucketWidth);
            }
        }

        _planOccupancy = x > 0 ? Occupancy(x) : kept;
        FillFraction = x;
        MeasuredOccupancy = planned / Limit;
    }

    /// <summary>Tests: the fill fraction of the last recompute (0: the priced plan alone).</summary>
    internal double FillFraction { get; private set; }

    /// <summary>Tests: at the last recompute, the measured share of the capacity held by chunks within their retention.</summary>
    internal double MeasuredOccupancy { get; private set; }

    /// <summary>Retention of class <paramref name="c"/>, in buckets, at fill fraction <paramref name="x"/>.</summary>
    /// <remarks>
    /// New tails keep the priced retention: a tail's retention is its whole request's (no chunk ranks below a deeper one
    /// of its request), which the per-class occupancy does not count; filling the tail class filled a generated trace
    /// of documents 8 times over what was modelled (every fill period ended with the capacity all within retention).
    /// </remarks>
    private double Retention(int c, double x) => (_tauScratch[c] + (c == TailClass ? 0 : x * (_tauLong[c] - _tauScratch[c]))) / _bucketWidth;

    /// <summary>Expected occupancy (slots) of the plan at fill fraction <paramref name="x"/>.</summary>
    private double Occupancy(double x)
    {
        double occupancy = 0;
        for (int c = 0; c < Classes; c++)
        {
            double age = Retention(c, x);
            int a = (int)age;
            int row = c * (Ages + 1);
            double life = a >= Ages ? _cumLife[row + Ages] : _cumLife[row + a] + ((age - a) * (_cumLife[row + a + 1] - _cumLife[row + a]));
            occupancy += _rate[c] * life * _bucketWidth;
        }

        return occupancy;
    }

    /// <summary>Expected life in buckets, per class, of a chunk retained for 0 to 128 buckets.</summary>
    private void Cumulate()
    {
        for (int c = 0; c < Classes; c++)
        {
            int row = c * Ages;
            int crow = c * (Ages + 1);
            double life = 0;
            _cumLife[crow] = 0;
            for (int a = 0; a < Ages; a++)
            {
                life += _survival[row + a];
                _cumLife[crow + a + 1] = life;
            }
        }
    }

    /// <summary>Resident chunks still within their retention (rank not below the clock), from evenly spread heap entries.</summary>
    private double MeasuredPlanned()
    {
        int count = _heap.Count;
        if (count == 0)
        {
            return 0;
        }

        int samples = Math.Min(count, OccupancySamples);
        int within = 0;
        for (int i = 0; i < samples; i++)
        {
            int slot = _heap.At((int)((long)i * count / samples));
            if (_heap.PriorityOf(slot) >= _clock)
            {
                within++;
            }
        }

        return (double)within * count / samples;
    }
}
