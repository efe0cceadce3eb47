using TierKv.Analysis.Traces;

namespace TierKv.Analysis.Simulation;

/// <summary>Computes hit-ratio curves: every (policy, capacity) pair, in parallel across the machine's cores.</summary>
public static class CurveRunner
{
    /// <summary>Name of Belady's MIN in policy lists and reports.</summary>
    public const string Belady = "belady";

    /// <summary>Name of the infinite cache in policy lists and reports.</summary>
    public const string Infinite = "infinite";

    /// <summary>
    /// Memory a simulation may hold per block of capacity: the most of any policy (<c>leader</c>'s six experts, about
    /// 1 KiB a slot, docs/analysis.md) plus the simulator's slot arrays. A capacity is checked against it before it is
    /// simulated.
    /// </summary>
    public const long BytesPerBlock = 1024;

    /// <summary>
    /// Simulates one policy (a TierKV policy name, <c>belady</c> or <c>infinite</c>) at one capacity. A capacity above
    /// the trace's distinct blocks is simulated at that count: a cache that never fills never evicts, so the result is
    /// the same, and the simulators' per-slot arrays stay the size of the trace (<c>--capacities 2147483647</c>).
    /// </summary>
    public static SimulationResult Simulate(RequestTrace trace, string policy, int capacity, long[]? nextUse = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        int slots = Math.Min(capacity, Math.Max(1, trace.UniqueBlocks));
        var result = policy switch
        {
            Belady => BeladySimulator.Run(trace, slots, nextUse),
            Infinite => BeladySimulator.Infinite(trace),
            _ => PolicySimulator.Run(trace, policy, slots),
        };
        return result with { Capacity = capacity };
    }

    /// <summary>All pairs, ordered by policy (as given) then capacity (as given).</summary>
    public static IReadOnlyList<SimulationResult> Run(RequestTrace trace, IReadOnlyList<string> policies, IReadOnlyList<int> capacities, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        long[]? nextUse = policies.Contains(Belady) ? BeladySimulator.NextUse(trace) : null;
        var jobs = new List<(int P, int C)>();
        for (int p = 0; p < policies.Count; p++)
        {
            for (int c = 0; c < capacities.Count; c++)
            {
                jobs.Add((p, c));
            }
        }

        // Largest capacities first: they take longest, so the cores stay busy to the end.
        jobs.Sort((a, b) => capacities[b.C].CompareTo(capacities[a.C]));
        var results = new SimulationResult[policies.Count * capacities.Count];
        int done = 0;
        Parallel.ForEach(jobs, job =>
        {
            var r = Simulate(trace, policies[job.P], capacities[job.C], nextUse);
            results[(job.P * capacities.Count) + job.C] = r with { Policy = policies[job.P] };
            progress?.Report(Interlocked.Increment(ref done));
        });
        return results;
    }
}
