
namespace TierKv.Eviction;

/// <summary>
/// An indexed binary min-heap over slot numbers, ordered by (priority, tie-break): O(log n) insert, update and remove,
/// all in arrays allocated once. Policies that rank slots by a score (frequency with aging) use it instead of a list.
/// </summary>
internal sealed class SlotHeap
{
    private readonly int[] _heap;
    private readonly int[] _position;
    private readonly double[] _priority;
    private readonly long[] _tie;
    private readonly int[] _scratch;

    public SlotHeap(int capacity)
    {
        _heap = new int[capacity];
        _position = new int[capacity];
        _priority = new double[capacity];
        _tie = new long[capacity];
        _scratch = new int[capacity];
        _position.AsSpan().Fill(-1);
    }

    public int Count { get; private set; }

    public bool Contains(int slot) => _position[slot] >= 0;

    public double PriorityOf(int slot) => _priority[slot];

    /// <summary>The slot with the smallest (priority, tie-break), or -1 when empty.</summary>
    public int Min => Count > 0 ? _heap[0] : -1;

    /// <summary>The slot at heap position <paramref name="index"/> (for bounded scans past pinned slots).</summary>
    public int At(int index) => _heap[index];

    /// <summary>
    /// The smallest slot that <paramref name="candidates"/> allows to evict, or -1. Walks the heap best-first (a second
    /// heap of positions in a preallocated array), so the cost grows with the number of smaller slots it must skip.
    /// </summary>
    public int MinEvictable(IEvictionCandidates candidates)
    {
        if (Count == 0)
        {
            return -1;
        }

        if (candidates.CanEvict(_heap[0]))
        {
            return _heap[0];
        }

        int n = 0;
        PushScratch(ref n, 0);
        while (n > 0)
        {
            int pos = PopScratch(ref n);
            int s = _heap[pos];
            if (candidates.CanEvict(s))
            {
                return s;
            }

            int c = (2 * pos) + 1;
            if (c < Count)
            {
                PushScratch(ref n, c);
            }

            if (c + 1 < Count)
            {
                PushScratch(ref n, c + 1);
            }
        }

        return -1;
    }

    /// <summary>Inserts <paramref name="slot"/>, or moves it when already present.</summary>
    public void Set(int slot, double priority, long tie)
    {
        _priority[slot] = priority;
        _tie[slot] = tie;
        int i = _position[slot];
        if (i < 0)
        {
            i = Count++;
            _heap[i] = slot;
            _position[slot] = i;
            Up(i);
            return;
        }

        if (!Up(i))
        {
            Down(i);
        }
    }

    public void Remove(int slot)
    {
        int i = _position[slot];
        Debug.Assert(i >= 0, "removing a slot that is not in the heap");
        int last = --Count;
        _position[slot] = -1;
        if (i == last)
        {
            return;
        }

        int moved = _heap[last];
        _heap[i] = moved;
        _position[moved] = i;
        if (!Up(i))
        {
            Down(i);
        }
    }

    private void PushScratch(ref int n, int pos)
    {
        int i = n++;
        while (i > 0)
        {
            int p = (i - 1) >> 1;
            if (!Less(_heap[pos], _heap[_scratch[p]]))
            {
                break;
            }

            _scratch[i] = _scratch[p];
            i = p;
        }

        _scratch[i] = pos;
    }

    private int PopScratch(ref int n)
    {
        int top = _scratch[0];
        int last = _scratch[--n];
        int i = 0;
        while (true)
        {
            int c = (2 * i) + 1;
            if (c >= n)
            {
                break;
            }

            if (c + 1 < n && Less(_heap[_scratch[c + 1]], _heap[_scratch[c]]))
            {
                c++;
            }

            if (!Less(_heap[_scratch[c]], _heap[last]))
            {
                break;
            }

            _scratch[i] = _scratch[c];
            i = c;
        }

        if (n > 0)
        {
            _scratch[i] = last;
        }

        return top;
    }

    private bool Less(int a, int b) => _priority[a] < _priority[b] || (_priority[a] == _priority[b] && _tie[a] < _tie[b]);

    private bool Up(int i)
    {
        int start = i;
        int s = _heap[i];
        while (i > 0)
        {
            int p = (i - 1) >> 1;
            int ps = _heap[p];
            if (!Less(s, ps))
            {
                break;
            }

            _heap[i] = ps;
            _position[ps] = i;
            i = p;
        }

        _heap[i] = s;
        _position[s] = i;
        return i != start;
    }

    private void Down(int i)
    {
        int s = _heap[i];
        int n = Count;
        while (true)
        {
            int c = (2 * i) + 1;
            if (c >= n)
            {
                break;
            }

            if (c + 1 < n && Less(_heap[c + 1], _heap[c]))
            {
                c++;
            }

            int cs = _heap[c];
            if (!Less(cs, s))
            {
                break;
            }

            _heap[i] = cs;
            _position[cs] = i;
            i = c;
        }

        _heap[i] = s;
        _position[s] = i;
    }
}
