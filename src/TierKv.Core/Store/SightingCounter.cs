
namespace TierKv.Store;

/// <summary>
/// Approximate per-key counts for seen-twice admission: one saturating byte per hashed key, halved whenever as many
/// sightings as counters were added (so old popularity fades). Fixed memory; races may lose a count, which only makes
/// admission slightly stricter or looser.
/// </summary>
internal sealed class SightingCounter
{
    private readonly byte[] _counts;
    private readonly int _mask;
    private int _added;

    public SightingCounter(int slots)
    {
        int size = (int)Math.Min(1u << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)slots));
        _counts = new byte[size];
        _mask = size - 1;
    }

    public void Add(in ChunkKey key)
    {
        ref byte c = ref _counts[(int)key.Low & _mask];
        if (c < 15)
        {
            c++;
        }

        if (Interlocked.Increment(ref _added) >= _counts.Length)
        {
            Volatile.Write(ref _added, 0);
            for (int i = 0; i < _counts.Length; i++)
            {
                _counts[i] >>= 1;
            }
        }
    }

    public int Count(in ChunkKey key) => _counts[(int)key.Low & _mask];
}
