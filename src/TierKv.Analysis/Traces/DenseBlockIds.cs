using TierKv.Keys;

namespace TierKv.Analysis.Traces;

/// <summary>
/// The dense id of each distinct chunk key of a trace, in order of first appearance: an open-addressing table of ids
/// into the keys themselves (4 bytes a cell at most half full, where a dictionary spends some 36 bytes an entry and
/// copies them all as it grows); the keys are the builder's column, not a second copy.
/// </summary>
internal sealed class DenseBlockIds(AppendBuffer<ChunkKey> keys)
{
    private int[] _cells = new int[1 << 10];

    /// <summary>The id of <paramref name="key"/>, appending it to the keys with the next id if it is new.</summary>
    public int GetOrAdd(ChunkKey key, out bool added)
    {
        if (keys.Count >= _cells.Length / 2)
        {
            Grow();
        }

        int mask = _cells.Length - 1;
        for (int i = Home(key, mask); ; i = (i + 1) & mask)
        {
            int cell = _cells[i];
            if (cell == 0)
            {
                int id = keys.Count;
                keys.Add(key);
                _cells[i] = id + 1;
                added = true;
                return id;
            }

            if (keys[cell - 1] == key)
            {
                added = false;
                return cell - 1;
            }
        }
    }

    private static int Home(ChunkKey key, int mask) => (int)((key.Low ^ key.High) * 0x9E3779B97F4A7C15UL >> 32) & mask;

    private void Grow()
    {
        if (_cells.Length >= 1 << 30)
        {
            throw new TraceFormatException($"The trace has more than {1 << 29} distinct blocks; split it.");
        }

        var cells = new int[_cells.Length * 2];
        int mask = cells.Length - 1;
        foreach (int cell in _cells)
        {
            if (cell != 0)
            {
                int i = Home(keys[cell - 1], mask);
                while (cells[i] != 0)
                {
                    i = (i + 1) & mask;
                }

                cells[i] = cell;
            }
        }

        _cells = cells;
    }
}
