namespace TierKv.Metrics;

/// <summary>
/// A lock-free log-linear latency histogram (8 sub-buckets per power of two, 1 ns to about 70 s), for percentiles in
/// live views and benches without allocation per sample.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBits = 3;
    private const int Sub = 1 << SubBits;
    private const int Buckets = 37 * Sub;
    private readonly long[] _counts = new long[Buckets];
    private long _total;

    /// <summary>Samples recorded.</summary>
    public long Count => Volatile.Read(ref _total);

    /// <summary>Records a latency in seconds.</summary>
    public void Record(double seconds) => RecordNanoseconds((long)(seconds * 1e9));

    /// <summary>Records a latency in nanoseconds.</summary>
    public void RecordNanoseconds(long ns)
    {
        Interlocked.Increment(ref _counts[Index(ns)]);
        Interlocked.Increment(ref _total);
    }

    /// <summary>The latency at quantile <paramref name="q"/> (0..1), in microseconds (upper bucket edge); 0 when empty.</summary>
    public double PercentileMicroseconds(double q)
    {
        long total = Count;
        if (total == 0)
        {
            return 0;
        }

        long rank = (long)Math.Ceiling(q * total);
        long seen = 0;
        for (int i = 0; i < Buckets; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank && seen > 0)
            {
                return UpperEdgeNs(i) / 1000.0;
            }
        }

        return UpperEdgeNs(Buckets - 1) / 1000.0;
    }

    /// <summary>Copies the bucket counts (for computing deltas between two snapshots).</summary>
    public long[] Snapshot() => (long[])_counts.Clone();

    private static int Index(long ns)
    {
        if (ns < Sub)
        {
            return (int)Math.Max(ns, 0L);
        }

        int exp = 63 - (int)long.LeadingZeroCount(ns);
        int sub = (int)((ns >> (exp - SubBits)) & (Sub - 1));
        int idx = ((exp - SubBits + 1) * Sub) + sub;
        return Math.Min(idx, Buckets - 1);
    }

    private static double UpperEdgeNs(int index)
    {
        if (index < Sub)
        {
            return index + 1;
        }

        int exp = (index / Sub) + SubBits - 1;
        int sub = index % Sub;
        return (1L << exp) + ((double)(sub + 1) * (1L << (exp - SubBits)));
    }
}
