using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Benchmarks;

/// <summary>
/// One chunk into and out of the DRAM tier against a plain copy of the same bytes between the same kinds of memory
/// (managed buffer and native pool; the write baseline cycles over as many chunk-sized native regions as the tier
/// has slots, so both sides miss the cache alike). <c>Write</c> stores a new chunk into a full tier each time (a
/// cyclic key stream over twice the slots under LRU evicts one chunk per write, no eviction sink); <c>Read</c> copies
/// a resident chunk out of a second tier, <c>Acquire</c> pins it in place (the zero-copy path) and releases the lease.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class HostMemoryTierBenchmarks
{
    private const int Slots = 16;
    private static readonly KvLayout Layout = ChunkCodecBenchmarks.Layout;

    private HostMemoryTier? _writeTier;
    private HostMemoryTier? _readTier;
    private byte[] _payload = [];
    private byte[] _destination = [];
    private byte* _native;
    private int _nextCopy;
    private ChunkKey[] _writeKeys = [];
    private ChunkKey _resident;
    private int _next;

    /// <summary>Bytes per chunk: 64 KiB shows the per-operation overhead, 2 MiB a realistic chunk.</summary>
    [Params(64 * 1024, 2 * 1024 * 1024)]
    public int ChunkBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _writeTier = NewTier();
        _readTier = NewTier();
        _payload = new byte[ChunkBytes];
        new Random(3).NextBytes(_payload);
        _destination = new byte[ChunkBytes];
        _native = (byte*)NativeMemory.AlignedAlloc((nuint)Slots * (nuint)ChunkBytes, HostMemoryTierOptions.PageSize);

        _resident = new ChunkKey(UInt128.MaxValue);
        _writeKeys = new ChunkKey[2 * Slots];
        for (int i = 0; i < _writeKeys.Length; i++)
        {
            _writeKeys[i] = new ChunkKey((UInt128)(ulong)(i + 1) * 0x9E3779B97F4A7C15UL);
        }

        Require.Equal(TierWriteStatus.Stored, _readTier.Write(Layout, _resident, null, _payload), "store of the resident chunk");

        // Fill the write tier, so every measured write also evicts.
        for (int i = 0; i < _writeKeys.Length; i++)
        {
            Write();
        }
    }

    private HostMemoryTier NewTier() => new(new HostMemoryTierOptions
    {
        CapacityBytes = (long)Slots * ChunkBytes,
        SlotBytes = ChunkBytes,
        EvictionPolicy = "lru",
        Name = "bench-dram",
    });

    [GlobalCleanup]
    public void Cleanup()
    {
        _writeTier?.Dispose();
        _writeTier = null;
        _readTier?.Dispose();
        _readTier = null;
        NativeMemory.AlignedFree(_native);
        _native = null;
    }

    [Benchmark(Baseline = true, Description = "memcpy managed->native")]
    [BenchmarkCategory("Write")]
    public int CopyIn()
    {
        _payload.AsSpan().CopyTo(new Span<byte>(_native + ((long)_nextCopy * ChunkBytes), ChunkBytes));
        _nextCopy = _nextCopy + 1 == Slots ? 0 : _nextCopy + 1;
        return ChunkBytes;
    }

    [Benchmark]
    [BenchmarkCategory("Write")]
    public TierWriteStatus Write()
    {
        var key = _writeKeys[_next];
        _next = _next + 1 == _writeKeys.Length ? 0 : _next + 1;
        return _writeTier!.Write(Layout, key, null, _payload);
    }

    [Benchmark(Baseline = true, Description = "memcpy native->managed")]
    [BenchmarkCategory("Read")]
    public int CopyOut()
    {
        new ReadOnlySpan<byte>(_native, ChunkBytes).CopyTo(_destination);
        return ChunkBytes;
    }

    [Benchmark]
    [BenchmarkCategory("Read")]
    public bool Read() => _readTier!.TryRead(_resident, _destination);

    [Benchmark]
    [BenchmarkCategory("Read")]
    public int Acquire()
    {
        if (!_readTier!.TryAcquire(_resident, out var lease))
        {
            return -1;
        }

        int length = lease.Length;
        lease.Dispose();
        return length;
    }

    /// <summary>Every measured write stores a new chunk and every read hits with the stored bytes.</summary>
    internal void Check(TextWriter log)
    {
        Setup();
        try
        {
            for (int i = 0; i < 3 * _writeKeys.Length; i++)
            {
                Require.Equal(TierWriteStatus.Stored, Write(), $"write {i} into the full tier");
            }

            Require.Equal(Slots, (int)_writeTier!.ChunkCount, "chunks resident in the full tier");
            Array.Clear(_destination);
            Require.True(Read(), "read of the resident chunk");
            Require.True(_destination.AsSpan().SequenceEqual(_payload), "read returns the stored bytes");
            Require.Equal(ChunkBytes, Acquire(), "acquired length");
            Require.Equal(ChunkBytes, CopyIn(), "baseline bytes in");
            Require.Equal(ChunkBytes, CopyOut(), "baseline bytes out");
            Allocations.RequireNone(Read, "TryRead", 100);
            Allocations.RequireNone(Acquire, "TryAcquire + lease Dispose", 100);

            Allocations.RequireNone(Write, $"Write of a new chunk ({ChunkBytes} B, one eviction)", 100);
        }
        finally
        {
            Cleanup();
        }
    }
}
