using System.Runtime.CompilerServices;

namespace TierKv.Curves;

/// <summary>
/// Where each recently accessed key's request stands in its run of leading hits, so a simulated cache counts prefix
/// hits as <c>analyze</c> does (a request's hits are the leading run of its blocks already cached): a key continues its
/// parent's run, and a root starts one. Direct-mapped: a child reads its parent's entry just after the parent wrote it.
/// </summary>
internal sealed class PrefixRuns
{
    private const int Bits = 12;
    private readonly ChunkKey[] _keys = new ChunkKey[1 << Bits];
    private readonly byte[] _levels = new byte[1 << Bits];
    private readonly bool[] _used = new bool[1 << Bits];

    /// <summary>Bytes held.</summary>
    public static long MemoryBytes => (1L << Bits) * 18;

    /// <summary>The level of <paramref name="parent"/>'s run, or <paramref name="broken"/> when it is not known.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int LevelOf(in ChunkKey parent, int broken)
    {
        int i = Slot(parent);
        return _used[i] && _keys[i] == parent ? _levels[i] : broken;
    }

    /// <summary>Records the level of <paramref name="key"/>'s run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(in ChunkKey key, int level)
    {
        int i = Slot(key);
        _keys[i] = key;
        _levels[i] = (byte)level;
        _used[i] = true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(in ChunkKey key) => (int)(((key.Low ^ key.High) * 0x9E3779B97F4A7C15UL) >> (64 - Bits));
}
