using TierKv.Tests.Shared;
using TierKv.Tiers;

namespace TierKv.Core.Tests;

/// <summary>The tier contract on the host-DRAM tier.</summary>
public sealed class HostMemoryTierConformanceTests : TierConformanceTests
{
    protected override Task<IKvTier> CreateAsync(int chunks) =>
        Task.FromResult<IKvTier>(new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = (long)chunks * Layout.ChunkBytes, SlotBytes = Layout.ChunkBytes }));
}
