using TierKv.Curves;
using TierKv.Eviction;
using TierKv.Memory;

namespace TierKv.Tiers;

/// <summary>Settings of a <see cref="HostMemoryTier"/>.</summary>
public sealed record HostMemoryTierOptions
{
    /// <summary>Bytes of the pool, allocated once. Required.</summary>
    public long CapacityBytes { get; init; }

    /// <summary>Bytes per slot: the largest chunk this tier holds (rounded up to the page size).</summary>
    public int SlotBytes { get; init; }

    /// <summary>Eviction policy name (see <see cref="EvictionPolicies"/>).</summary>
    public string EvictionPolicy { get; init; } = EvictionPolicies.Default;

    /// <summary>Live miss-ratio curves (docs/operations.md, "Live curves"); null: off.</summary>
    public MissRatioCurveOptions? Curves { get; init; }

    /// <summary>Tier name in metrics.</summary>
    public string Name { get; init; } = "dram";

    /// <summary>Where the pool comes from; pinned memory when a GPU is present.</summary>
    public IHostMemoryAllocator Allocator { get; init; } = NativeHostMemoryAllocator.Instance;

    /// <summary>Page size the pool and slots are aligned to.</summary>
    public const int PageSize = 4096;

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (SlotBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(SlotBytes), SlotBytes, "The DRAM tier's slot size must be positive (one chunk of the layout).");
        }

        long slot = AlignedSlotBytes;
        if (CapacityBytes < slot)
        {
            throw new ArgumentOutOfRangeException(nameof(CapacityBytes), CapacityBytes, $"The DRAM tier's capacity must hold at least one slot of {slot} bytes.");
        }

        if (CapacityBytes / slot > int.MaxValue / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(CapacityBytes), CapacityBytes, "Too many slots: use larger chunks or a smaller capacity.");
        }
    }

    /// <summary>Slot size rounded up to <see cref="PageSize"/>.</summary>
    public long AlignedSlotBytes => ((long)SlotBytes + PageSize - 1) / PageSize * PageSize;
}
