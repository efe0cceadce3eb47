namespace TierKv.Tiers.Slots;

/// <summary>
/// Where a slot of a local tier is in its life (<see cref="SlotTable"/>). The protocol, the same in DRAM and on the SSD:
/// reserve (free to writing), fill outside the lock, publish (writing to ready, or to staged while an SSD write is in
/// flight), pin for reading, detach (out of the index), and the last reader frees or retires it.
/// </summary>
public enum SlotState : byte
{
    /// <summary>On the free stack.</summary>
    Free,

    /// <summary>Reserved by a writer, invisible to lookups until published.</summary>
    Writing,

    /// <summary>Visible, but its bytes are still on their way to the medium (SSD write-behind): readers wait.</summary>
    Staged,

    /// <summary>Visible and readable.</summary>
    Ready,

    /// <summary>Out of the index (evicted, removed, found damaged); freed by its last reader.</summary>
    Detached,

    /// <summary>An older version replaced by a staged one: kept on the medium until its successor is durable.</summary>
    Held,

    /// <summary>Replaced (or deleted) while its own write was in flight: retires when that write completes.</summary>
    Superseded,

    /// <summary>Out of the index; its copy on the medium is to be erased once its last reader is gone.</summary>
    Retiring,

    /// <summary>Its copy on the medium is being erased; then it is free.</summary>
    Erasing,

    /// <summary>No room on the medium behind it (a full disk): never used again in this run.</summary>
    Unbacked,
}
