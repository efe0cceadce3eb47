namespace TierKv.Eviction;

/// <summary>
/// An intrusive doubly linked list over slot numbers held in preallocated arrays: O(1) push, remove and move,
/// no allocation. Several lists may share one <see cref="SlotLinks"/> when a slot is in at most one of them.
/// </summary>
internal struct SlotList
{
    public int Head;
    public int Tail;
    public int Count;

    public static SlotList Empty => new() { Head = -1, Tail = -1, Count = 0 };
}

/// <summary>The prev/next arrays behind one or more <see cref="SlotList"/>s.</summary>
internal sealed class SlotLinks
{
    private readonly int[] _prev;
    private readonly int[] _next;

    public SlotLinks(int capacity)
    {
        _prev = new int[capacity];
        _next = new int[capacity];
        _prev.AsSpan().Fill(-1);
        _next.AsSpan().Fill(-1);
    }

    public int Next(int slot) => _next[slot];

    public int Prev(int slot) => _prev[slot];

    /// <summary>Appends at the tail (most recent end).</summary>
    public void PushTail(ref SlotList list, int slot)
    {
        _prev[slot] = list.Tail;
        _next[slot] = -1;
        if (list.Tail >= 0)
        {
            _next[list.Tail] = slot;
        }
        else
        {
            list.Head = slot;
        }

        list.Tail = slot;
        list.Count++;
    }

    public void Remove(ref SlotList list, int slot)
    {
        int p = _prev[slot], n = _next[slot];
        if (p >= 0)
        {
            _next[p] = n;
        }
        else
        {
            list.Head = n;
        }

        if (n >= 0)
        {
            _prev[n] = p;
        }
        else
        {
            list.Tail = p;
        }

        _prev[slot] = -1;
        _next[slot] = -1;
        list.Count--;
    }

    public void MoveToTail(ref SlotList list, int slot)
    {
        if (list.Tail == slot)
        {
            return;
        }

        Remove(ref list, slot);
        PushTail(ref list, slot);
    }
}
