using TierKv.Curves;

namespace TierKv.Server;

/// <summary>The <c>Server:Curves</c> settings: live miss-ratio curves of each tenant's DRAM tier (<see cref="MissRatioCurveOptions"/>).</summary>
public sealed record ServerCurveOptions
{
    /// <summary>Estimate the curves (true by default; the cost is a few percent of a DRAM access, docs/operations.md).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Sizes as multiples of the tier's capacity; empty: 0.25, 0.5, 1, 2, 4, 8.</summary>
    public IList<double> Multiples { get; init; } = [];

    /// <summary>Policies estimated besides LRU (miniature caches); empty: LRU only.</summary>
    public IList<string> Policies { get; init; } = [];

    /// <summary>Most keys the LRU curve tracks before it samples (<see cref="MissRatioCurveOptions.MaxTrackedKeys"/>).</summary>
    public int MaxTrackedKeys { get; init; } = new MissRatioCurveOptions().MaxTrackedKeys;

    /// <summary>Share of families the other policies simulate (<see cref="MissRatioCurveOptions.PolicySampleRate"/>).</summary>
    public double PolicySampleRate { get; init; } = new MissRatioCurveOptions().PolicySampleRate;

    /// <summary>Simulate on a thread of each estimator's own, off the serving path (<see cref="MissRatioCurveOptions.Background"/>); false: inline.</summary>
    public bool Background { get; init; } = true;

    /// <summary>Accesses buffered between a tier and its estimator's thread (<see cref="MissRatioCurveOptions.RingEntries"/>).</summary>
    public int RingEntries { get; init; } = new MissRatioCurveOptions().RingEntries;

    /// <summary>The estimator's options, or null when curves are off.</summary>
    public MissRatioCurveOptions? ToEstimatorOptions()
    {
        if (!Enabled)
        {
            return null;
        }

        var o = new MissRatioCurveOptions { Policies = [.. Policies], MaxTrackedKeys = MaxTrackedKeys, PolicySampleRate = PolicySampleRate, Background = Background, RingEntries = RingEntries };
        return Multiples.Count == 0 ? o : o with { Multiples = [.. Multiples] };
    }
}
