using TierKv.Tiers.Slots;
using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Benchmarks;

/// <summary>
/// <see cref="TieredStore.Lookup(KvLayout, ReadOnlySpan{ChunkKey})"/> of a prompt whose 512 chunks (131072 tokens)
/// all sit in the DRAM tier, against the same number of bare probes of <c>ConcurrentDictionary&lt;ChunkKey, int&gt;</c>
/// (baseline: the map the tiers indexed with before <see cref="SlotIndex"/>), of <see cref="SlotIndex"/> (the tiers'
/// index now: the ratio of the store's lookup to it is its overhead per chunk, tier walk and metrics), and of
/// <c>Dictionary</c> keyed by <see cref="ChunkKey"/> and by raw <see cref="UInt128"/> (whose default hash is costlier
/// than <see cref="ChunkKey.GetHashCode"/>).
/// </summary>
[MemoryDiagnoser]
public class LookupBenchmarks
{
    private const int Chunks = 512;

    // Lookup reads only the index, so tiny chunks keep the pool small; the keys are real 256-token chain keys.
    private static readonly KvLayout Layout = new("bench/lookup", 1, 1, 8, KvElementType.Float16);

    private TieredStore? _store;
    private ChunkKey[] _keys = [];
    private UInt128[] _rawKeys = [];
    private readonly Dictionary<UInt128, int> _dictionary = new(Chunks);
    private readonly Dictionary<ChunkKey, int> _keyDictionary = new(Chunks);
    private readonly ConcurrentDictionary<ChunkKey, int> _concurrent = new(Environment.ProcessorCount, Chunks);
    private SlotIndex? _slotIndex;

    [GlobalSetup]
    public void Setup()
    {
        var tokens = new int[Chunks * Layout.TokensPerChunk];
        var rng = new Random(11);
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = rng.Next(0, 128_256);
        }

        _keys = PrefixHasher.ComputeKeys(Layout, TenantSalt.None, tokens);
        _rawKeys = new UInt128[Chunks];
        _dictionary.Clear();
        _keyDictionary.Clear();
        _concurrent.Clear();
        _slotIndex = new SlotIndex((ChunkKey[])_keys.Clone());
        for (int i = 0; i < Chunks; i++)
        {
            _slotIndex.Add(_keys[i], i);
            _rawKeys[i] = _keys[i].Value;
            _dictionary[_keys[i].Value] = i;
            _keyDictionary[_keys[i]] = i;
            _concurrent[_keys[i]] = i;
        }

        var dram = new HostMemoryTier(new HostMemoryTierOptions
        {
            CapacityBytes = (long)Chunks * Layout.ChunkBytes,
            SlotBytes = Layout.ChunkBytes,
            EvictionPolicy = "lru",
            Name = "bench-dram",
        });
        _store = new TieredStore([dram]);
        var payload = new byte[Chunks * Layout.ChunkBytes];
        rng.NextBytes(payload);
        Require.Equal(Chunks, _store.Store(Layout, _keys, payload), "chunks stored for the lookup");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.Dispose();
        _store = null;
    }

    [Benchmark(Description = "Dictionary<UInt128,int> x512")]
    public int DictionaryProbes() => Walk(_rawKeys, new DictionaryProbe<UInt128>(_dictionary));

    [Benchmark(Baseline = true, Description = "ConcurrentDictionary<ChunkKey,int> x512")]
    public int ConcurrentDictionaryProbes() => Walk(_keys, new ConcurrentProbe(_concurrent));

    [Benchmark(Description = "SlotIndex x512")]
    public int SlotIndexProbes() => Walk(_keys, new SlotIndexProbe(_slotIndex!));

    [Benchmark(Description = "Dictionary<ChunkKey,int> x512")]
    public int KeyDictionaryProbes() => Walk(_keys, new DictionaryProbe<ChunkKey>(_keyDictionary));

    [Benchmark(Description = "TieredStore.Lookup 512 chunks")]
    public int Lookup() => _store!.Lookup(Layout, _keys);

    /// <summary>
    /// Tokens of the leading run of <paramref name="keys"/> that <paramref name="probe"/> finds, as a lookup counts them.
    /// The probe is a struct type argument, so the JIT compiles one copy per map with direct (inlinable) calls: the
    /// loop measures the map, not interface dispatch.
    /// </summary>
    private static int Walk<TKey, TProbe>(TKey[] keys, TProbe probe)
        where TProbe : struct, IProbe<TKey>
    {
        int hit = 0;
        foreach (var k in keys)
        {
            if (!probe.Has(k))
            {
                break;
            }

            hit++;
        }

        return hit * Layout.TokensPerChunk;
    }

    private interface IProbe<in TKey>
    {
        bool Has(TKey key);
    }

    private readonly struct DictionaryProbe<TKey>(Dictionary<TKey, int> map) : IProbe<TKey>
        where TKey : notnull
    {
        public bool Has(TKey key) => map.TryGetValue(key, out _);
    }

    private readonly struct ConcurrentProbe(ConcurrentDictionary<ChunkKey, int> map) : IProbe<ChunkKey>
    {
        public bool Has(ChunkKey key) => map.TryGetValue(key, out _);
    }

    private readonly struct SlotIndexProbe(SlotIndex index) : IProbe<ChunkKey>
    {
        public bool Has(ChunkKey key) => index.TryGet(key, out _);
    }

    /// <summary>All five walk the whole cached prefix.</summary>
    internal void Check()
    {
        Setup();
        try
        {
            int all = Chunks * Layout.TokensPerChunk;
            Require.Equal(all, Lookup(), "tokens found by the store");
            Require.Equal(all, DictionaryProbes(), "tokens found by Dictionary");
            Require.Equal(all, ConcurrentDictionaryProbes(), "tokens found by ConcurrentDictionary");
            Require.Equal(all, KeyDictionaryProbes(), "tokens found by Dictionary<ChunkKey, int>");
            Require.Equal(all, SlotIndexProbes(), "tokens found by SlotIndex");
            Allocations.RequireNone(Lookup, "TieredStore.Lookup");
        }
        finally
        {
            Cleanup();
        }
    }
}
