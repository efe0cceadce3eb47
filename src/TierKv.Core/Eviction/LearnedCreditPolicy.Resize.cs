using System.Numerics;

namespace TierKv.Eviction;

/// <summary>Following the tier's slot limit: the learning horizon, its age buckets and the price all scale with it.</summary>
public sealed partial class LearnedCreditPolicy
{
    /// <summary>
    /// The bucket width (<c>C / 16</c>), the horizon (<c>H = 8 x C</c>), the sketch's halving period and the price's
    /// occupancy target follow the limit <c>C</c>, as if the policy had been built for it; what was learned stays, moved
    /// to the new buckets: ghost entries older than the new horizon expire (censored), the live ones are counted again by
    /// their birth bucket, and the reuse-age histograms are rebuilt from the fine record of reuse ages (reuses beyond the
    /// new horizon count as censored). Then the retention times are priced again for the new capacity.
    /// </summary>
    /// <remarks>
    /// Spreading the old buckets themselves over narrower ones (uniformly within each) was measured first: after a
    /// shrink from 2,048 to 512 slots, the flattened short ages misled the pricing for thousands of requests (hit ratio
    /// 0.018 and 0.014 below a policy built for the limit over the two quarters of PolicyResizeTests' shrink trace after
    /// the shrink, with a scratch harness not kept; +0.0005 and -0.0007 when relearning from nothing), hence the fine
    /// record (equal to four decimals over the second half of that trace: PolicyResizeTests).
    /// </remarks>
    protected override void OnResize(int previous)
    {
        int width = Math.Max(8, Limit / 16);
        int horizon = Ages * width;
        ExpireAndRecount(horizon, width);
        for (int c = 0; c < Classes; c++)
        {
            long beyond = Rebuild(_fineAges.AsSpan(c * _fineBins, _fineBins), _hist.AsSpan(c * Ages, Ages), width);
            _censored[c] = _expired[c] + beyond;
        }

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

    /// <summary>Fine bin of a reuse age: one per age below 16, then 16 per octave.</summary>
    private static int FineBin(long age)
    {
        if (age < 16)
        {
            return (int)age;
        }

        int octave = BitOperations.Log2((ulong)age);
        return 16 + ((octave - 4) * 16) + (int)((age >> (octave - 4)) & 15);
    }

    /// <summary>Smallest age of fine bin <paramref name="bin"/>.</summary>
    private static long FineStart(int bin) => bin < 16 ? bin : (long)(16 + ((bin - 16) % 16)) << ((bin - 16) / 16);

    /// <summary>
    /// Fills <paramref name="hist"/> (buckets <paramref name="width"/> accesses wide) from <paramref name="fine"/>, each
    /// fine bin spread uniformly over its ages, rounding the cumulative count at each bucket's end (so the total is
    /// kept); returns the reuses beyond the last bucket (older than the horizon).
    /// </summary>
    private static long Rebuild(ReadOnlySpan<long> fine, Span<long> hist, int width)
    {
        long total = 0;
        foreach (long n in fine)
        {
            total += n;
        }

        int i = 0;
        double below = 0;
        long previous = 0;
        for (int b = 0; b < hist.Length; b++)
        {
            long edge = (long)(b + 1) * width;
            while (i < fine.Length && FineStart(i + 1) <= edge)
            {
                below += fine[i];
                i++;
            }

            double partial = 0;
            if (i < fine.Length && FineStart(i) < edge)
            {
                long start = FineStart(i);
                partial = fine[i] * (double)(edge - start) / (FineStart(i + 1) - start);
            }

            long next = (long)Math.Round(below + partial);
            hist[b] = next - previous;
            previous = next;
        }

        return total - previous;
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
                _expired[c]++;
            }
            else
            {
                _pending[(c * Ages) + (int)(time / width % Ages)]++;
            }
        }
    }
}
