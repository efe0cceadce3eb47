using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace TierKv.Tiers.Slots;

/// <summary>
/// A tier's map from chunk key to slot that never allocates after construction: a fixed open-addressing table
/// (linear probing, backward-shift deletion, so no tombstones and no rehash) at least twice the slot count, whose
/// cells hold slot numbers (0 = empty, slot + 1 otherwise). The keys themselves are not copied: a cell's key is read
/// from the tier's keys-by-slot array, which the tier writes before it publishes the slot here.
/// </summary>
/// <remarks>
/// <para>
/// Concurrency contract: any number of lock-free readers (<see cref="TryGet"/>, <see cref="Contains"/>,
/// <see cref="Count"/>) and one writer at a time (<see cref="Add"/>, <see cref="Remove"/>, <see cref="RemoveSlot"/>,
/// <see cref="Clear"/>), which the tier guarantees by holding its lock. The writer also must not change
/// <c>keys[slot]</c> while the slot is in the index.
/// </para>
/// <para>
/// What a reader gets: it never throws and never loops unbounded; a returned slot held the asked key when it was
/// compared (the 16-byte compare is not atomic: a slot rewritten at that instant could in principle match halves of
/// two keys, with odds of about 2^-64), so a key never written to the keys array is never found. Cells are written with <c>Volatile.Write</c>
/// after the slot's key and read with <c>Volatile.Read</c>, so a new entry is never seen before its key. A slot that a
/// tier reserved is not found under its new key before the tier publishes it: the tier writes that key, once the
/// payload is in place, in the same critical section as <see cref="Add"/> (a reader holding a stale cell may see it
/// a moment before <see cref="Add"/> returns, never earlier). Two races are benign, and callers treat them as a stale answer, as they
/// would with a <c>ConcurrentDictionary</c>: a reader racing with a removal's backward shift may miss a key that
/// stays present (the key moved behind it: treated as not cached), and a reader racing with an eviction may still
/// find the evicted key, its slot perhaps already reserved for reuse (the tier re-checks under its lock before it
/// touches the slot).
/// </para>
/// </remarks>
public sealed class SlotIndex
{
    /// <summary>The most slots an index takes: its table (2x, a power of two) must fit an array.</summary>
    public const int MaxSlots = 1 << 29;

    private readonly ChunkKey[] _keys;
    private readonly int[] _table;
    private readonly int _mask;
    private int _count;

    /// <summary>Creates an empty index over <paramref name="keysBySlot"/>, the tier's own array of each slot's key.</summary>
    /// <param name="keysBySlot">
    /// One key per slot, owned by the tier: it writes <c>keysBySlot[slot]</c> before <see cref="Add"/> and leaves it
    /// alone until the slot is removed.
    /// </param>
    public SlotIndex(ChunkKey[] keysBySlot)
    {
        ArgumentNullException.ThrowIfNull(keysBySlot);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(keysBySlot.Length, MaxSlots, nameof(keysBySlot));
        _keys = keysBySlot;

        // At most half full, so probe chains stay short (about 1.5 cells for a hit, 2.5 for a miss).
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, keysBySlot.Length * 2));
        _table = new int[size];
        _mask = size - 1;
    }

    /// <summary>Number of slots (the length of the keys-by-slot array).</summary>
    public int Capacity => _keys.Length;

    /// <summary>Number of cells in the table (a power of two, at least twice <see cref="Capacity"/>).</summary>
    public int TableSize => _table.Length;

    /// <summary>Number of indexed keys; exact for the writer, a recent value for readers.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>True when <paramref name="key"/> is indexed (lock-free; see the class remarks for races).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Contains(in ChunkKey key) => TryGet(key, out _);

    /// <summary>Finds the slot of <paramref name="key"/>; false when absent (lock-free; see the class remarks for races).</summary>
    public bool TryGet(in ChunkKey key, out int slot)
    {
        int[] table = _table;
        ChunkKey[] keys = _keys;
        int mask = _mask;
        int i = HomeOf(key);

        // Bounded by the table size: a reader racing with a busy writer might otherwise chase shifting cells forever.
        for (int n = 0; n <= mask; n++)
        {
            int e = Volatile.Read(ref table[i]);
            if (e == 0)
            {
                break;
            }

            if (keys[e - 1].Value == key.Value)
            {
                slot = e - 1;
                return true;
            }

            i = (i + 1) & mask;
        }

        slot = -1;
        return false;
    }

    /// <summary>
    /// Publishes <paramref name="slot"/> under <paramref name="key"/> (writer only). The tier has already written
    /// <c>keysBySlot[slot] = key</c>. Throws when the key is already indexed: a tier checks that under its lock first.
    /// </summary>
    public void Add(in ChunkKey key, int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, _keys.Length);
        Debug.Assert(_keys[slot] == key, "the tier writes the slot's key before publishing it");
        int[] table = _table;
        int i = HomeOf(key);
        while (true)
        {
            int e = table[i];
            if (e == 0)
            {
                break;
            }

            if (_keys[e - 1].Value == key.Value)
            {
                ThrowAlreadyIndexed();
            }

            Debug.Assert(e != slot + 1, "a slot is indexed once");
            i = (i + 1) & _mask;
        }

        Volatile.Write(ref table[i], slot + 1);
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>Removes <paramref name="key"/> (writer only); false when absent.</summary>
    public bool Remove(in ChunkKey key)
    {
        int[] table = _table;
        int i = HomeOf(key);
        while (true)
        {
            int e = table[i];
            if (e == 0)
            {
                return false;
            }

            if (_keys[e - 1].Value == key.Value)
            {
                DeleteAt(i);
                return true;
            }

            i = (i + 1) & _mask;
        }
    }

    /// <summary>
    /// Removes the entry of <paramref name="slot"/> (writer only), found through <c>keysBySlot[slot]</c>, which must
    /// still hold the key it was published under; false when the slot is not indexed.
    /// </summary>
    public bool RemoveSlot(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, _keys.Length);
        int[] table = _table;
        int i = HomeOf(_keys[slot]);
        while (true)
        {
            int e = table[i];
            if (e == 0)
            {
                return false;
            }

            if (e == slot + 1)
            {
                DeleteAt(i);
                return true;
            }

            i = (i + 1) & _mask;
        }
    }

    /// <summary>Removes every entry (writer only). Readers meanwhile see some mix of old entries and empty cells.</summary>
    public void Clear()
    {
        _table.AsSpan().Clear();
        Volatile.Write(ref _count, 0);
    }

    /// <summary>
    /// A new array of the indexed keys, in table order (allocates: for diagnostics and tests). Exact when called by
    /// the writer (under the tier's lock); a racing writer could make it miss or repeat a key.
    /// </summary>
    public ChunkKey[] SnapshotKeys()
    {
        var result = new ChunkKey[Count];
        int n = 0;
        foreach (int e in _table)
        {
            if (e != 0 && n < result.Length)
            {
                result[n++] = _keys[e - 1];
            }
        }

        return n == result.Length ? result : result[..n];
    }

    /// <summary>The home cell of a key: <see cref="Mix"/> of both halves, so keys that differ only in their high half
    /// (a client may name a chunk by any 32 hex digits) still spread over the table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int HomeOf(in ChunkKey key) => (int)Mix(key) & _mask;

    /// <summary>A 32-bit mix of both halves of a key (one multiply each, as the policies' key tables do).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Mix(in ChunkKey key) => (uint)(((key.Low ^ (key.High * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL) >> 32);

    [DoesNotReturn]
    private static void ThrowAlreadyIndexed() => throw new InvalidOperationException("The key is already in the slot index; a tier checks for it under its lock before publishing.");

    /// <summary>Empties cell <paramref name="i"/> and closes the gap, so every probe chain stays unbroken without tombstones.</summary>
    private void DeleteAt(int i)
    {
        int[] table = _table;
        int mask = _mask;
        int j = i;
        while (true)
        {
            j = (j + 1) & mask;
            int e = table[j];
            if (e == 0)
            {
                break;
            }

            // Move e into the hole when its home lies cyclically outside (i, j]. The copy lands before its old cell is
            // overwritten, so e is briefly in both; only a reader that had already passed cell i misses it.
            int home = HomeOf(_keys[e - 1]);
            bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between)
            {
                Volatile.Write(ref table[i], e);
                i = j;
            }
        }

        Volatile.Write(ref table[i], 0);
        Volatile.Write(ref _count, _count - 1);
    }
}
