using TierKv.Analysis.Traces;

namespace TierKv.Analysis.Simulation;

/// <summary>
/// Reuse statistics of a trace: the reuse distance of each repeated block access (distinct other blocks accessed since
/// the previous access of the same block: an LRU cache larger than that distance holds it), bucketed by powers of two.
/// </summary>
public sealed class ReuseProfile
{
    private ReuseProfile(long[] bucketCounts, long reuses, long firstAccesses, long median, long p90)
    {
        BucketCounts = bucketCounts;
        Reuses = reuses;
        FirstAccesses = firstAccesses;
        MedianDistance = median;
        P90Distance = p90;
    }

    /// <summary><c>BucketCounts[k]</c> counts reuses with distance in <c>[2^k - 1, 2^(k+1) - 1)</c> (bucket 0: distance 0).</summary>
    public long[] BucketCounts { get; }

    /// <summary>Accesses to a block seen before.</summary>
    public long Reuses { get; }

    /// <summary>Accesses to a block never seen before.</summary>
    public long FirstAccesses { get; }

    /// <summary>Median reuse distance in blocks.</summary>
    public long MedianDistance { get; }

    /// <summary>90th percentile of the reuse distance in blocks.</summary>
    public long P90Distance { get; }

    /// <summary>Lower bound (inclusive) of bucket <paramref name="k"/>.</summary>
    public static long BucketLow(int k) => (1L << k) - 1;

    /// <summary>Computes the profile: O(n log n) with a Fenwick tree over access positions.</summary>
    public static ReuseProfile Compute(RequestTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        var blocks = trace.Blocks;
        int n = blocks.Length;
        var tree = new int[n + 1];
        var last = new int[trace.UniqueBlocks];
        last.AsSpan().Fill(-1);
        var buckets = new long[40];
        var distances = new List<long>();
        long first = 0;
        for (int i = 0; i < n; i++)
        {
            int b = blocks[i];
            int prev = last[b];
            if (prev < 0)
            {
                first++;
            }
            else
            {
                // Distinct blocks accessed in (prev, i): positions that are the latest access of their block.
                long d = Sum(tree, i) - Sum(tree, prev + 1);
                distances.Add(d);
                buckets[63 - long.LeadingZeroCount(d + 1)]++;
                Add(tree, prev + 1, -1);
            }

            Add(tree, i + 1, 1);
            last[b] = i;
        }

        distances.Sort();
        long med = distances.Count > 0 ? distances[distances.Count / 2] : 0;
        long p90 = distances.Count > 0 ? distances[(int)(distances.Count * 0.9)] : 0;
        int used = buckets.Length;
        while (used > 1 && buckets[used - 1] == 0)
        {
            used--;
        }

        return new ReuseProfile(buckets[..used], distances.Count, first, med, p90);
    }

    private static void Add(int[] tree, int i, int v)
    {
        for (; i < tree.Length; i += i & -i)
        {
            tree[i] += v;
        }
    }

    private static long Sum(int[] tree, int i)
    {
        long s = 0;
        for (; i > 0; i -= i & -i)
        {
            s += tree[i];
        }

        return s;
    }
}
