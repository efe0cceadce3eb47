namespace TierKv.Tiers.Slots;

/// <summary>
/// Which resident slots hold the parent chunk of which, so a tier can tell prefix-aware eviction whether a slot is a
/// leaf. Links are checked against a per-slot generation, so a child never decrements the count of a slot that was
/// reused for another chunk after its parent left. Not thread-safe: tiers call it under their lock.
/// </summary>
public sealed class SlotLineage
{
    private readonly int[] _parentSlot;
    private readonly int[] _parentGen;
    private readonly int[] _generation;
    private readonly int[] _children;

    /// <summary>Creates the bookkeeping for <paramref name="slots"/> slots.</summary>
    public SlotLineage(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _parentSlot = new int[slots];
        _parentGen = new int[slots];
        _generation = new int[slots];
        _children = new int[slots];
        Array.Fill(_parentSlot, -1);
    }

    /// <summary>A chunk became resident in <paramref name="slot"/>; its parent is resident in <paramref name="parentSlot"/> (or -1).</summary>
    public void Attach(int slot, int parentSlot)
    {
        _generation[slot]++;
        _children[slot] = 0;
        _parentSlot[slot] = parentSlot;
        if (parentSlot >= 0)
        {
            _parentGen[slot] = _generation[parentSlot];
            _children[parentSlot]++;
        }
    }

    /// <summary>The chunk in <paramref name="slot"/> stopped being resident: its parent loses a child.</summary>
    public void Detach(int slot)
    {
        int ps = _parentSlot[slot];
        if (ps >= 0 && _generation[ps] == _parentGen[slot] && _children[ps] > 0)
        {
            _children[ps]--;
        }

        _parentSlot[slot] = -1;
    }

    /// <summary>The slot is free again: links that still name it become stale.</summary>
    public void Retire(int slot) => _generation[slot]++;

    /// <summary>True when no resident chunk names <paramref name="slot"/> as its parent.</summary>
    public bool IsLeaf(int slot) => _children[slot] == 0;
}
