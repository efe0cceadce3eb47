using BenchmarkDotNet.Attributes;
using TierKv.Eviction;

namespace TierKv.Benchmarks;

/// <summary>
/// One cache access (a hit, or a miss that evicts and inserts) per operation for each eviction policy, on the same
/// precomputed Zipf(0.9) stream over 8x as many keys as the 4096 slots (about half the accesses hit), in steady state
/// (full cache, warmed by a pass over the stream). Baseline: <c>lru</c>.
/// </summary>
[MemoryDiagnoser]
public class EvictionPolicyBenchmarks
{
    /// <summary>Accesses per measured invocation (results are per access).</summary>
    public const int Batch = 4096;

    private const int Capacity = 4096;
    private const int Universe = 8 * Capacity;
    private const int StreamLength = 1 << 18;

    private int[] _stream = [];
    private PolicyDriver _lru = null!;
    private PolicyDriver _s3fifo = null!;
    private PolicyDriver _arc = null!;
    private PolicyDriver _alfu = null!;
    private PolicyDriver _leader = null!;
    private PolicyDriver _lc = null!;
    private PolicyDriver _hedge = null!;
    private int _lruAt;
    private int _s3fifoAt;
    private int _arcAt;
    private int _alfuAt;
    private int _leaderAt;
    private int _lcAt;
    private int _hedgeAt;

    /// <summary>A deterministic Zipf-distributed key stream (rank r drawn with probability ∝ 1/r^s, ranks shuffled onto keys).</summary>
    internal static int[] ZipfStream(int length, int universe, double s, int seed)
    {
        var cdf = new double[universe];
        double sum = 0;
        for (int r = 0; r < universe; r++)
        {
            sum += 1.0 / Math.Pow(r + 1, s);
            cdf[r] = sum;
        }

        var keyOfRank = new int[universe];
        for (int i = 0; i < universe; i++)
        {
            keyOfRank[i] = i;
        }

        var rng = new Random(seed);
        rng.Shuffle(keyOfRank);
        var stream = new int[length];
        for (int i = 0; i < length; i++)
        {
            int r = Array.BinarySearch(cdf, rng.NextDouble() * sum);
            stream[i] = keyOfRank[r < 0 ? ~r : r];
        }

        return stream;
    }

    [GlobalSetup]
    public void Setup()
    {
        _stream = ZipfStream(StreamLength, Universe, 0.9, 2024);
        _lru = Warm("lru");
        _s3fifo = Warm("s3fifo");
        _arc = Warm("arc");
        _alfu = Warm("alfu");
        _leader = Warm("leader");
        _lc = Warm("lc");
        _hedge = Warm("hedge");
        _lruAt = _s3fifoAt = _arcAt = _alfuAt = _leaderAt = _lcAt = _hedgeAt = 0;
    }

    private PolicyDriver Warm(string name)
    {
        var driver = new PolicyDriver(EvictionPolicies.Create(name, Capacity), Universe);
        foreach (int key in _stream)
        {
            driver.Access(key);
        }

        return driver;
    }

    private int Run(PolicyDriver driver, ref int at)
    {
        var stream = _stream;
        int i = at;
        int hits = 0;
        for (int n = 0; n < Batch; n++)
        {
            if (driver.Access(stream[i]))
            {
                hits++;
            }

            i = i + 1 == stream.Length ? 0 : i + 1;
        }

        at = i;
        return hits;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int Lru() => Run(_lru, ref _lruAt);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int S3Fifo() => Run(_s3fifo, ref _s3fifoAt);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Arc() => Run(_arc, ref _arcAt);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Alfu() => Run(_alfu, ref _alfuAt);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Leader() => Run(_leader, ref _leaderAt);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Lc() => Run(_lc, ref _lcAt);

    /// <summary>The default policy (issue 17's target: at most 1 us per access).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Hedge() => Run(_hedge, ref _hedgeAt);

    /// <summary>Each policy keeps the cache full and answers both hits and misses on this stream.</summary>
    internal void Check(TextWriter log)
    {
        Setup();
        foreach (var (driver, run) in new (PolicyDriver, Func<int>)[] { (_lru, Lru), (_s3fifo, S3Fifo), (_arc, Arc), (_alfu, Alfu), (_leader, Leader), (_lc, Lc), (_hedge, Hedge) })
        {
            int hits = run();
            Allocations.RequireNone(run, $"{driver.Policy.Name}: {Batch} accesses", 20);
            Require.Equal(Capacity, driver.Resident, $"{driver.Policy.Name} resident slots");
            Require.True(hits > 0 && hits < Batch, $"{driver.Policy.Name} sees both hits and misses in a batch (hits {hits} of {Batch})");
            log.WriteLine($"  {driver.Policy.Name,-8} hit ratio over warm-up {(double)driver.Hits / (driver.Hits + driver.Misses):F3}, last batch {(double)hits / Batch:F3}");
        }
    }
}
