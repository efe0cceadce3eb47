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

    // One array of entries, so an access touches one cache line of it, not three.
    private readonly Entry[] _entries = new Entry[1 << Bits];

    /// <summary>Bytes held.</summary>
    public static long MemoryBytes => (1L << Bits) * 24;

    /// <summary>The level of <paramref name="parent"/>'s run, or <paramref name="broken"/> when it is not known.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int LevelOf(in ChunkKey parent, int broken)
    {
        ref var e = ref _entries[Slot(parent)];
        return e.Used && e.Key == parent ? e.Level : broken;
    }

    /// <summary>Records the level of <paramref name="key"/>'s run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(in ChunkKey key, int level)
    {
        ref var e = ref _entries[Slot(key)];
        e.Key = key;
        e.Level = (byte)level;
        e.Used = true;
    }

    private struct Entry
    {
        public ChunkKey Key;
        public byte Level;
        public bool Used;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(in ChunkKey key) => (int)(((key.Low ^ key.High) * 0x9E3779B97F4A7C15UL) >> (64 - Bits));
}
