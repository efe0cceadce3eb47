using TierKv.Analysis.Traces;

namespace TierKv.Analysis.Simulation;

/// <summary>
/// Belady's MIN, the clairvoyant bound: with the same semantics as <see cref="PolicySimulator"/>, a full cache evicts
/// the resident block whose next access lies furthest in the future (never-again blocks first). Every block is
/// admitted (no bypass), as in the reference figures.
/// </summary>
public static class BeladySimulator
{
    /// <summary>Position of the next access of the same block after each access, or <see cref="long.MaxValue"/>.</summary>
    public static long[] NextUse(RequestTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        var blocks = trace.Blocks;
        var next = new long[blocks.Length];
        var last = new long[trace.UniqueBlocks];
        last.AsSpan().Fill(long.MaxValue);
        for (int i = blocks.Length - 1; i >= 0; i--)
        {
            next[i] = last[blocks[i]];
            last[blocks[i]] = i;
        }

        return next;
    }

    /// <summary>Simulates MIN at <paramref name="capacity"/> blocks; <paramref name="nextUse"/> from <see cref="NextUse"/>.</summary>
    public static SimulationResult Run(RequestTrace trace, int capacity, long[]? nextUse = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        nextUse ??= NextUse(trace);
        var resident = new bool[trace.UniqueBlocks];
        var currentNext = new long[trace.UniqueBlocks];
        // Max-heap by next use with lazy deletion: stale entries are skipped when they surface.
        var heap = new PriorityQueue<int, long>(capacity * 2);
        int count = 0;
        long hits = 0, evictions = 0;
        int pos = 0;
        for (int r = 0; r < trace.RequestCount; r++)
        {
            var blocks = trace.BlocksOf(r);
            hits += HeldPrefix(blocks, resident);
            foreach (int b in blocks)
            {
                long n = nextUse[pos++];
                if (!resident[b])
                {
                    if (count >= capacity)
                    {
                        while (true)
                        {
                            heap.TryDequeue(out int v, out long negNext);
                            if (resident[v] && currentNext[v] == -negNext)
                            {
                                resident[v] = false;
                                count--;
                                evictions++;
                                break;
                            }
                        }
                    }

                    resident[b] = true;
                    count++;
                }

                currentNext[b] = n;
                heap.Enqueue(b, -n);
                if (heap.Count > 4 * capacity + 1024)
                {
                    Compact(heap, resident, currentNext);
                }
            }
        }

        return new SimulationResult("belady", capacity, hits, trace.BlockAccesses, evictions);
    }

    /// <summary>The infinite cache: every block stays once seen; its hit ratio is the trace's reuse fraction.</summary>
    public static SimulationResult Infinite(RequestTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        var seen = new bool[trace.UniqueBlocks];
        long hits = 0;
        for (int r = 0; r < trace.RequestCount; r++)
        {
            var blocks = trace.BlocksOf(r);
            hits += HeldPrefix(blocks, seen);
            foreach (int b in blocks)
            {
                seen[b] = true;
            }
        }

        return new SimulationResult("infinite", int.MaxValue, hits, trace.BlockAccesses, 0);
    }

    /// <summary>How many leading blocks of a request are held: the prefix a hit covers.</summary>
    private static int HeldPrefix(ReadOnlySpan<int> blocks, bool[] held)
    {
        int h = 0;
        while (h < blocks.Length && held[blocks[h]])
        {
            h++;
        }

        return h;
    }

    private static void Compact(PriorityQueue<int, long> heap, bool[] resident, long[] currentNext)
    {
        var live = new List<(int, long)>(heap.Count);
        while (heap.TryDequeue(out int b, out long p))
        {
            if (resident[b] && currentNext[b] == -p)
            {
                live.Add((b, p));
            }
        }

        heap.EnqueueRange(live);
    }
}
