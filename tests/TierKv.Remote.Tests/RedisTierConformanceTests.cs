using TierKv.Tests.Shared;
using TierKv.Tiers;

namespace TierKv.Remote.Tests;

/// <summary>The tier contract on the remote tier, against the Redis cluster CI starts (skipped without it).</summary>
public sealed class RedisTierConformanceTests : TierConformanceTests
{
    protected override async Task<IKvTier> CreateAsync(int chunks) =>
        await RedisTier.ConnectAsync(TestData.Options(TestClusters.Require(TestClusters.Redis), TestData.UniquePrefix("conformance")));

    protected override ValueTask ReleaseAsync(IKvTier tier) => ((RedisTier)tier).DisposeAsync();
}

/// <summary>The tier contract on the remote tier, against the Garnet cluster CI starts (skipped without it).</summary>
public sealed class GarnetTierConformanceTests : TierConformanceTests
{
    protected override async Task<IKvTier> CreateAsync(int chunks) =>
        await RedisTier.ConnectAsync(TestData.Options(TestClusters.Require(TestClusters.Garnet), TestData.UniquePrefix("conformance")));

    protected override ValueTask ReleaseAsync(IKvTier tier) => ((RedisTier)tier).DisposeAsync();
}
