using TierKv.Analysis.Traces;
using TierKv.Eviction;

namespace TierKv.Analysis.Simulation;

/// <summary>
/// Replays a trace through one of TierKV's real eviction policies at a capacity in blocks, with the semantics of
/// docs/analysis.md: requests in file order; a request's hits are the leading run of its blocks already cached before
/// it; then every block of the request is accessed in order (a hit for a cached block, an insert for another).
/// The slot bookkeeping mirrors <see cref="TierKv.Tiers.HostMemoryTier"/> (free slots taken in the same order, the
/// same parent links for <see cref="IEvictionCandidates.IsLeaf"/>), so the policy makes the same choices here as in the
/// tier and <c>tierkv replay</c> measures the same hit ratio.
/// </summary>
public sealed class PolicySimulator : IEvictionCandidates
{
    private readonly RequestTrace _trace;
    private readonly int[] _slotOf;
    private readonly int[] _blockOf;
    private readonly int[] _children;
    private readonly int[] _parentSlot;
    private readonly int[] _parentGen;
    private readonly int[] _generation;
    private readonly int[] _free;
    private readonly EvictionPolicy _policy;
    private int _freeCount;

    /// <summary>Prepares a simulation of <paramref name="policy"/> (a fresh instance: it is consumed) over <paramref name="trace"/>.</summary>
    public PolicySimulator(RequestTrace trace, EvictionPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(policy);
        _trace = trace;
        _policy = policy;
        int c = policy.Capacity;
        _slotOf = new int[trace.UniqueBlocks];
        _slotOf.AsSpan().Fill(-1);
        _blockOf = new int[c];
        _children = new int[c];
        _parentSlot = new int[c];
        _parentGen = new int[c];
        _generation = new int[c];
        _free = new int[c];
        for (int i = 0; i < c; i++)
        {
            _free[i] = c - 1 - i;
        }

        _freeCount = c;
    }

    /// <summary>Simulates <paramref name="policyName"/> at <paramref name="capacity"/> blocks.</summary>
    public static SimulationResult Run(RequestTrace trace, string policyName, int capacity) =>
        new PolicySimulator(trace, EvictionPolicies.Create(policyName, capacity)).Run();

    /// <summary>Runs the whole trace once.</summary>
    public SimulationResult Run()
    {
        long hits = 0, evictions = 0;
        var keys = _trace.Keys;
        var parents = _trace.Parents;
        for (int r = 0; r < _trace.RequestCount; r++)
        {
            var blocks = _trace.BlocksOf(r);
            int h = 0;
            while (h < blocks.Length && _slotOf[blocks[h]] >= 0)
            {
                h++;
            }

            hits += h;
            foreach (int b in blocks)
            {
                int s = _slotOf[b];
                if (s >= 0)
                {
                    _policy.OnHit(s);
                    continue;
                }

                if (_freeCount > 0)
                {
                    s = _free[--_freeCount];
                }
                else
                {
                    s = _policy.SelectVictim(keys[b], this);
                    if (s < 0)
                    {
                        continue;
                    }

                    Detach(s);
                    _generation[s]++;
                    evictions++;
                }

                _blockOf[s] = b;
                _slotOf[b] = s;
                _generation[s]++;
                _children[s] = 0;
                _parentSlot[s] = -1;
                int p = parents[b];
                if (p >= 0 && _slotOf[p] is int ps and >= 0)
                {
                    _parentSlot[s] = ps;
                    _parentGen[s] = _generation[ps];
                    _children[ps]++;
                }

                _policy.OnInsert(s, keys[b], p >= 0 ? keys[p] : null);
            }
        }

        return new SimulationResult(_policy.Name, _policy.Capacity, hits, _trace.BlockAccesses, evictions);
    }

    bool IEvictionCandidates.CanEvict(int slot) => true;

    bool IEvictionCandidates.IsLeaf(int slot) => _children[slot] == 0;

    private void Detach(int s)
    {
        _slotOf[_blockOf[s]] = -1;
        _policy.OnRemove(s);
        int ps = _parentSlot[s];
        if (ps >= 0 && _generation[ps] == _parentGen[s] && _children[ps] > 0)
        {
            _children[ps]--;
        }

        _parentSlot[s] = -1;
    }
}
