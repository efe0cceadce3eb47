namespace TierKv.Analysis.Traces;

/// <summary>
/// A column of a trace being read: appended to in fixed-size segments, so growing it never copies nor leaves the old
/// array behind as garbage (a list doubles, holding up to three times the data while it grows), and turned into one
/// exact array at the end, releasing each segment as soon as it is copied.
/// </summary>
internal sealed class AppendBuffer<T>
    where T : struct
{
    private const int SegmentBits = 14;
    private const int SegmentLength = 1 << SegmentBits;
    private const int SegmentMask = SegmentLength - 1;
    private readonly List<T[]?> _segments = [];

    /// <summary>Number of items.</summary>
    public int Count { get; private set; }

    /// <summary>The item at <paramref name="index"/> (less than <see cref="Count"/>).</summary>
    public ref T this[int index] => ref _segments[index >> SegmentBits]![index & SegmentMask];

    /// <summary>Appends <paramref name="item"/>.</summary>
    public void Add(T item)
    {
        if ((Count & SegmentMask) == 0)
        {
            if (Count > Array.MaxLength - SegmentLength)
            {
                // The column must fit one array in the end.
                throw new TraceFormatException($"The trace has more than {Array.MaxLength - SegmentLength} entries of one kind (block accesses, blocks or requests); split it.");
            }

            _segments.Add(new T[SegmentLength]);
        }

        _segments[^1]![Count & SegmentMask] = item;
        Count++;
    }

    /// <summary>All items in one array; the buffer is empty afterwards.</summary>
    public T[] MoveToArray()
    {
        var result = GC.AllocateUninitializedArray<T>(Count);
        for (int s = 0, at = 0; s < _segments.Count; s++, at += SegmentLength)
        {
            _segments[s].AsSpan(0, Math.Min(SegmentLength, Count - at)).CopyTo(result.AsSpan(at));
            _segments[s] = null;
        }

        _segments.Clear();
        Count = 0;
        return result;
    }
}
