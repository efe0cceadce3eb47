using System.Numerics;

namespace TierKv.Eviction;

/// <summary>
/// A bounded set of chunk keys in insertion/recency order, with O(1) lookup: the ghost lists of S3-FIFO and ARC
/// and the shadow LRU directory of <see cref="AdaptiveLfuPolicy"/>. Everything lives in arrays allocated once: an
/// open-addressing table (linear probing, backward-shift deletion) maps a key to its entry, and entries are linked
/// in order through a <see cref="SlotLinks"/>. When full, adding a key drops the oldest one.
/// </summary>
internal sealed class KeyList
{
    private readonly ChunkKey[] _keys;
    private readonly SlotLinks _links;
    private readonly int[] _table;
    private readonly int _mask;
    private readonly int[] _free;
    private int _freeCount;
    private SlotList _order = SlotList.Empty;

    public KeyList(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _keys = new ChunkKey[capacity];
        _links = new SlotLinks(capacity);
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, capacity * 2));
        _table = new int[size];
        _table.AsSpan().Fill(-1);
        _mask = size - 1;
        _free = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _free[i] = capacity - 1 - i;
        }

        _freeCount = capacity;
        Limit = capacity;
    }

    /// <summary>Entries allocated.</summary>
    public int Capacity { get; }

    /// <summary>Entries kept (at most <see cref="Capacity"/>): adding one beyond drops the oldest.</summary>
    public int Limit { get; private set; }

    public int Count => _order.Count;

    public bool Contains(in ChunkKey key) => Find(key) >= 0;

    /// <summary>Adds <paramref name="key"/> as the newest entry (moving it there when present); drops the oldest when full.</summary>
    public void AddNewest(in ChunkKey key)
    {
        int e = Find(key);
        if (e >= 0)
        {
            _links.MoveToTail(ref _order, e);
            return;
        }

        if (_order.Count >= Limit)
        {
            RemoveEntry(_order.Head);
        }

        e = _free[--_freeCount];
        _keys[e] = key;
        _links.PushTail(ref _order, e);
        int i = Bucket(key);
        while (_table[i] >= 0)
        {
            i = (i + 1) & _mask;
        }

        _table[i] = e;
    }

    /// <summary>Keeps at most <paramref name="limit"/> entries from now on (clamped to 1 to <see cref="Capacity"/>), dropping the oldest beyond it.</summary>
    public void SetLimit(int limit)
    {
        Limit = Math.Clamp(limit, 1, Capacity);
        while (_order.Count > Limit)
        {
            RemoveEntry(_order.Head);
        }
    }

    /// <summary>Moves a present key to the newest end; false when absent.</summary>
    public bool Touch(in ChunkKey key)
    {
        int e = Find(key);
        if (e < 0)
        {
            return false;
        }

        _links.MoveToTail(ref _order, e);
        return true;
    }

    /// <summary>Removes <paramref name="key"/>; false when absent.</summary>
    public bool Remove(in ChunkKey key)
    {
        int e = Find(key);
        if (e < 0)
        {
            return false;
        }

        RemoveEntry(e);
        return true;
    }

    /// <summary>Removes the oldest entry; false when empty.</summary>
    public bool RemoveOldest()
    {
        if (_order.Head < 0)
        {
            return false;
        }

        RemoveEntry(_order.Head);
        return true;
    }

    private int Bucket(in ChunkKey key)
    {
        // Keys are hashes already, but synthetic keys (small integers) are not: mix before masking.
        ulong h = (key.Low ^ (key.High * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;
        return (int)(h >> 32) & _mask;
    }

    private int Find(in ChunkKey key)
    {
        int i = Bucket(key);
        while (true)
        {
            int e = _table[i];
            if (e < 0)
            {
                return -1;
            }

            if (_keys[e] == key)
            {
                return e;
            }

            i = (i + 1) & _mask;
        }
    }

    private void RemoveEntry(int e)
    {
        // Find the table cell holding e, then close the gap (backward-shift deletion keeps probe chains intact).
        int i = Bucket(_keys[e]);
        while (_table[i] != e)
        {
            i = (i + 1) & _mask;
        }

        int j = i;
        while (true)
        {
            j = (j + 1) & _mask;
            int ej = _table[j];
            if (ej < 0)
            {
                break;
            }

            int home = Bucket(_keys[ej]);
            // Move ej into the hole when its home lies cyclically outside (i, j].
            bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between)
            {
                _table[i] = ej;
                i = j;
            }
        }

        _table[i] = -1;
        _links.Remove(ref _order, e);
        _free[_freeCount++] = e;
    }
}
