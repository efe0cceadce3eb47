namespace TierKv.Remote.Tests;

/// <summary>Tests that measure latency run in this collection, after and apart from the others.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "timing";
}
