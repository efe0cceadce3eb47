namespace TierKv.Eviction;

/// <summary>What a tier tells its eviction policy about a resident slot when the policy looks for a victim.</summary>
public interface IEvictionCandidates
{
    /// <summary>False while the slot is pinned by a reader or is being written: it must not be chosen.</summary>
    bool CanEvict(int slot);

    /// <summary>True when no descendant chunk of this slot's prefix is resident (prefix-aware policies evict leaves first).</summary>
    bool IsLeaf(int slot);
}
