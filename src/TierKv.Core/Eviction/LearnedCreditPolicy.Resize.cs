namespace TierKv.Eviction;

/// <summary>Following the tier's slot limit: the learning horizon, its age buckets and the price all scale with it.</summary>
public sealed partial class LearnedCreditPolicy
{
    /// <summary>
    /// The bucket width (<c>C / 16</c>), the horizon (<c>H = 8 x C</c>), the sketch's halving period and the price's
    /// occupancy target follow the limit <c>C</c>, as if the policy had been built for it; what was learned stays, moved
    /// to the new buckets: reuse ages are spread over the new buckets in proportion (reuses beyond the new horizon count as
    /// censored there), ghost entries older than the new horizon expire (censored) and the live ones are counted again
    /// by their birth bucket. Then the retention times are priced again for the new capacity.
    /// </summary>
    protected override void OnResize(int previous)
    {
        int width = Math.Max(8, Limit / 16);
        int horizon = Ages * width;
        for (int c = 0; c < Classes; c++)
        {
            _censored[c] += Rebucket(_hist.AsSpan(c * Ages, Ages), _bucketWidth, width);
        }

        ExpireAndRecount(horizon, width);
        _bucketWidth = width;
        _horizon = horizon;
        int sketch = SketchWidth(Limit, horizon);
        _sketch.HalveAfter = Math.Max(1, sketch / 4);
        if (_learned)
        {
            Recompute();
        }
    }

    /// <summary>Counters of the frequency sketch for <paramref name="capacity"/> slots and a horizon of <paramref name="horizon"/> accesses.</summary>
    private static int SketchWidth(int capacity, int horizon) => (int)Math.Min(1 << 22, Math.Max(1024L * capacity, 8L * horizon));

    /// <summary>
    /// Spreads a reuse-age histogram of buckets <paramref name="from"/> accesses wide over buckets <paramref name="to"/>
    /// wide, uniformly within each old bucket, rounding the cumulative count at each new boundary (so the total is kept);
    /// returns the count beyond the last new bucket (reuses older than the new horizon).
    /// </summary>
    private static long Rebucket(Span<long> hist, int from, int to)
    {
        Span<long> prefix = stackalloc long[Ages + 1];
        for (int a = 0; a < Ages; a++)
        {
            prefix[a + 1] = prefix[a] + hist[a];
        }

        long previous = 0;
        for (int b = 0; b < Ages; b++)
        {
            long next = (long)Math.Round(Cumulative(prefix, hist, from, (long)(b + 1) * to));
            hist[b] = next - previous;
            previous = next;
        }

        return prefix[Ages] - previous;
    }

    /// <summary>Reuses at ages below <paramref name="age"/> in a histogram of buckets <paramref name="width"/> wide (uniform within a bucket).</summary>
    private static double Cumulative(ReadOnlySpan<long> prefix, ReadOnlySpan<long> hist, int width, long age)
    {
        long a = age / width;
        return a >= Ages ? prefix[Ages] : prefix[(int)a] + (hist[(int)a] * (double)(age % width) / width);
    }

    /// <summary>
    /// Ghost entries older than <paramref name="horizon"/> expire as censored; the others are counted again as pending by
    /// their birth bucket of <paramref name="width"/> accesses. A walk over the ring, only when the limit changes.
    /// </summary>
    private void ExpireAndRecount(int horizon, int width)
    {
        long t = _clock;
        Array.Clear(_pending);
        for (long time = Math.Max(0, t - _horizon); time < t; time++)
        {
            int r = (int)(time % _ring);
            if (!_ghostIndex.TryGet(_ghostKey[r], out int latest) || latest != r)
            {
                continue;
            }

            int c = _ghostClass[r];
            if (t - time > horizon)
            {
                _ghostIndex.RemoveSlot(r);
                _censored[c]++;
            }
            else
            {
                _pending[(c * Ages) + (int)(time / width % Ages)]++;
            }
        }
    }
}
