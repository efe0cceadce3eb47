namespace TierKv.Tiers;

/// <summary>The slot limit: how much of its pool the tier may use, changed while it serves (DRAM shared among tenants).</summary>
public sealed partial class HostMemoryTier
{
    private int _slotLimit;

    /// <summary>
    /// Slots the tier may fill (1 to <see cref="SlotCount"/>; the whole pool unless lowered). At the limit a write
    /// evicts instead of taking a free slot; a lowered limit is reached by <see cref="TrimToLimit"/>.
    /// </summary>
    public int SlotLimit => Volatile.Read(ref _slotLimit);

    /// <summary>Slots not on the free stack: published chunks, writes in progress, and detached slots their readers still hold.</summary>
    public int SlotsInUse => _slots - _table.FreeCount;

    /// <summary>
    /// Sets <see cref="SlotLimit"/> and resizes the eviction policy to it (<see cref="Eviction.EvictionPolicy.Resize"/>). Raising it
    /// admits more chunks at once; lowering it evicts nothing by itself: call <see cref="TrimToLimit"/> (writes meanwhile
    /// reuse victims' slots, so the tier never grows past its new limit).
    /// </summary>
    public void SetSlotLimit(int slots)
    {
        if (slots < 1 || slots > _slots)
        {
            throw new ArgumentOutOfRangeException(nameof(slots), slots, $"The slot limit of DRAM tier '{Name}' must be 1 to its pool's {_slots} slots.");
        }

        // The policy follows the limit (its shadow caches, queues and credits sized as for a pool of this many slots).
        lock (_table.Lock)
        {
            _table.ResizePolicyLocked(slots);
            Volatile.Write(ref _slotLimit, slots);
        }
    }

    /// <summary>
    /// Evicts at most <paramref name="maxEvictions"/> chunks while more slots are in use than <see cref="SlotLimit"/>,
    /// through the normal eviction path (the policy's victims, handed to the eviction sink while still readable, so
    /// write-back and versions rules hold). A chunk being read is never chosen; one that readers pin during its
    /// hand-over is freed by its last reader. Returns the chunks evicted; fewer when only leased chunks are left.
    /// </summary>
    public int TrimToLimit(int maxEvictions = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxEvictions);
        int evicted = 0;
        while (evicted < maxEvictions && SlotsInUse > SlotLimit)
        {
            bool noRoom = false;
            if (ReserveSlot(default, replace: true, out int slot, ref noRoom, trimming: true) != TierWriteStatus.Stored)
            {
                break;
            }

            lock (_table.Lock)
            {
                FreeLocked(slot);
            }

            evicted++;
        }

        return evicted;
    }
}
