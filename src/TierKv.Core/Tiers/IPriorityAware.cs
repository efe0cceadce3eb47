using TierKv.Tiers.Slots;

namespace TierKv.Tiers;

/// <summary>
/// A local tier whose eviction obeys chunk priorities and pins (DRAM, SSD). A <c>TieredStore</c> attaches its registry
/// to each such tier; the SSD tier also records the pins so that a restart keeps them.
/// </summary>
public interface IPriorityAware
{
    /// <summary>Consults <paramref name="priorities"/> from now on; a tier takes one registry for its life.</summary>
    void AttachPriorities(ChunkPriorities priorities);
}
