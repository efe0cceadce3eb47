using TierKv.Curves;
using TierKv.Tiers.Slots;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using TierKv.Chunks;
using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme;

/// <summary>
/// The local NVMe SSD tier: chunks in large preallocated files, one fixed slot per chunk, each slot written in the
/// chunk format (<see cref="ChunkHeader"/>, payload, <see cref="SlotTrailer"/>, padded to 4 KiB) with <c>O_DIRECT</c>
/// from page-aligned native buffers. The index lives in memory and is rebuilt at open by scanning and verifying the
/// slots (warm restart); damaged or torn slots are dropped and counted. A chunk is visible only after its write
/// completed; a chunk being read is pinned and never overwritten. I/O trouble is a status, never an exception.
/// </summary>
public sealed partial class NvmeTier : IWriteBehindTier, IPriorityAware
{
    private const string MetaFile = "tierkv-ssd.meta";
    private const string LockFile = "tierkv-ssd.lock";
    private const int MetaFormat = 1;

    /// <summary>Where the 64-byte header sits in a slot's first page (it ends where the payload begins).</summary>
    internal const int HeaderOffset = BlockFile.Alignment - ChunkHeader.Size;

    // Checksums are computed on the I/O threads: many threads share the cores fairly with whatever else runs, where
    // one caller thread would cap a store at one core's hashing speed.
    private static readonly Action<IoRequest> EncodeOnIoThread = Encode;

    private static readonly Func<IoRequest, long, long> VerifyOnIoThread = static (req, r) =>
    {
        if (r >= 0)
        {
            var buf = (StagingBuffer)req.State!;
            buf.Damage = VerifyRead(buf.Pointer, buf.Payload, r, buf.PayloadLength, buf.Layout!, buf.Key, buf.Destination);
        }

        return r;
    };

    private static readonly Action<long, object?> ZeroDone = static (r, s) => ((RetireToken)s!).Tier.CompleteZero(((RetireToken)s!).Slot, r);

    private static readonly Action<long, object?> WriteBehindDone = static (r, s) => ((StagingBuffer)s!).Owner.CompleteWriteBehind(r, (StagingBuffer)s);

    private readonly NvmeTierOptions _options;
    private readonly TierKvMetrics? _metrics;
    private readonly TierCounters? _counters;
    private readonly BlockFile[] _files;
    private readonly FileStream _lockStream;
    private readonly IoEngine _engine;
    private readonly SemaphoreSlim _permits;
    private readonly ConcurrentStack<StagingBuffer> _buffers = new();
    private readonly List<StagingBuffer> _allBuffers = [];
    private readonly long _stride;
    private readonly int _slotsPerFile;
    private readonly int _slots;

    private readonly SlotTable _table;
    private readonly Action<int> _lastReader;
    private readonly ChunkKey[] _fingerprints;
    private readonly int[] _predecessor;
    private readonly RetireToken?[] _retireTokens;
    private readonly nint _zeroPage;
    private TaskCompletionSource? _changed;
    private int _zeroing;
    private long _maxVersion;
    private int _backedSlots;
    private long _sequence;
    private long _admissionStoppedUntil;
    private int _disposed;
    private int _loggedNoSpace;

    private long _damagedReads;
    private long _ioErrors;
    private long _noSpace;
    private long _shed;
    private long _evictions;

    /// <summary>Opens (creating when absent) the tier in <see cref="NvmeTierOptions.Directory"/> and rebuilds its index from the files.</summary>
    /// <exception cref="IOException">The directory is in use by another process, or its files cannot be opened.</exception>
    public NvmeTier(NvmeTierOptions options, TierKvMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _stride = options.SlotStride;
        _slots = (int)Math.Max(1, options.CapacityBytes / options.SlotBytes);
        _slotsPerFile = (int)Math.Clamp(options.FileBytes / _stride, 1, _slots);
        _table = new SlotTable(_slots, options.EvictionPolicy, startEmpty: true);
        _lastReader = LastReaderLocked;
        _fingerprints = new ChunkKey[_slots];
        _predecessor = new int[_slots];
        _retireTokens = new RetireToken?[_slots];
        Array.Fill(_predecessor, -1);
        unsafe
        {
            // One page of zeros, written over the header page of every stale copy (read-only once made).
            _zeroPage = (nint)NativeMemory.AlignedAlloc(BlockFile.Alignment, BlockFile.Alignment);
            new Span<byte>((void*)_zeroPage, BlockFile.Alignment).Clear();
        }

        Directory.CreateDirectory(options.Directory);
        try
        {
            _lockStream = new FileStream(System.IO.Path.Combine(options.Directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The SSD tier directory '{options.Directory}' is in use by another process ({ex.Message}). Give each process its own directory.", ex);
        }

        _metrics = metrics;
        if (metrics is not null)
        {
            _counters = metrics.ForTier(options.Name);
            _counters.Usage = () => (CapacityBytes, UsedBytes, ChunkCount);
        }

        _permits = new SemaphoreSlim(options.EffectiveStagingBuffers, options.EffectiveStagingBuffers);
        _readPermits = new SemaphoreSlim(options.EffectiveStagingBuffers, options.EffectiveStagingBuffers);
        try
        {
            _files = OpenFiles();
            _engine = IoEngine.Create(options, _files[0], Log);
            IoMode = $"{IoMode}, {_engine.Mode}";
            Recover();
            if (options.Curves is { } curves)
            {
                _table.Curves = new MissRatioCurveEstimator(curves, _slots, _table.PolicyName);
                if (_counters is not null)
                {
                    _counters.Curves = _table.Curves;
                }
            }
        }
        catch
        {
            _engine?.Dispose();
            _lockStream.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    public TierKind Kind => TierKind.Ssd;

    /// <inheritdoc />
    public long CapacityBytes => (long)Volatile.Read(ref _backedSlots) * _options.SlotBytes;

    /// <inheritdoc />
    public long UsedBytes => _table.UsedBytes;

    /// <summary>The live miss-ratio curve estimator (<see cref="NvmeTierOptions.Curves"/>), or null.</summary>
    public MissRatioCurveEstimator? Curves => _table.Curves;

    /// <inheritdoc />
    public long ChunkCount => _table.ChunkCount;

    /// <inheritdoc />
    public bool HasLocalIndex => true;

    /// <summary>The settings the tier was opened with.</summary>
    public NvmeTierOptions Options => _options;

    /// <summary>True when I/O bypasses the page cache (<c>O_DIRECT</c>).</summary>
    public bool IsDirect { get; private set; }

    /// <summary>
    /// <c>O_DIRECT</c>, or <c>buffered</c> with the reason the file system gave, then the submission path
    /// (<see cref="Submission"/>): for example <c>O_DIRECT, io_uring</c>.
    /// </summary>
    public string IoMode { get; private set; } = "";

    /// <summary>How reads and writes reach the device: <c>io_uring</c>, or <c>threads</c> (asked for, or the fallback where io_uring is refused).</summary>
    public string Submission => _engine.Mode;

    /// <summary>Slots in the files (some may lack disk space: see <see cref="CapacityBytes"/>).</summary>
    public int SlotCount => _slots;

    /// <summary>Bytes each slot takes in its file.</summary>
    public long SlotStride => _stride;

    /// <summary>The eviction policy in use.</summary>
    public string PolicyName => _table.PolicyName;

    /// <summary>What the last open found in the files.</summary>
    public NvmeRecoveryReport Recovery { get; private set; } = new(0, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Reads that found a damaged chunk (dropped, served as a miss).</summary>
    public long DamagedReads => Interlocked.Read(ref _damagedReads);

    /// <summary>Failed reads and writes (served as misses or declined stores).</summary>
    public long IoErrors => Interlocked.Read(ref _ioErrors);

    /// <summary>Stores declined because the disk had no space (admission stopped a while each time).</summary>
    public long NoSpaceRejections => Interlocked.Read(ref _noSpace);

    /// <summary>Write-behind chunks shed because every staging buffer was busy.</summary>
    public long ShedWrites => Interlocked.Read(ref _shed);

    /// <summary>Slot-sized staging buffers allocated so far (copied writes and reads only; a zero-copy I/O needs none).</summary>
    internal int SlotBuffersAllocated
    {
        get
        {
            lock (_allBuffers)
            {
                return _allBuffers.Count;
            }
        }
    }

    /// <summary>Chunks evicted to make room.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <inheritdoc />
    public bool Contains(in ChunkKey key) => _table.Contains(key);

    /// <inheritdoc />
    public ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        _table.ContainsEach(keys.Span, present.Span);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ValidateWrite(layout, payload.Length);
        if (_table.Contains(key))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        await _permits.WaitAsync(cancellationToken).ConfigureAwait(false);
        var pin = payload.Pin();
        nint src = PointerOf(pin);

        // A page-aligned payload goes to the disk from the caller's memory and needs only a frame of two pages; only a
        // copied one takes a slot-sized staging buffer (32 MiB, allocated on first use: hundreds of milliseconds each
        // on a busy machine while the kernel assembles huge pages, which once made a fresh tier's first writes slow).
        bool zeroCopy = _options.ZeroCopyWrites && IsPageAligned(src, payload.Length);
        var buf = zeroCopy ? RentFrame() : RentBuffer();
        try
        {
            var s = Reserve(key, out int slot);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }

            var req = PrepareWrite(buf, slot, layout, key, parent, payload.Length, src, zeroCopy);
            long r = await _engine.RunAsync(req).ConfigureAwait(false);
            return Complete(slot, r, layout, key, parent, payload.Length);
        }
        finally
        {
            pin.Dispose();
            buf.Layout = null;
            (zeroCopy ? _frames : _buffers).Push(buf);
            _permits.Release();
        }
    }

    /// <inheritdoc />
    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed != 0)
        {
            return; // Dispose already waited for every write.
        }

        // Holding every permit means no I/O is in flight.
        int held = 0;
        try
        {
            for (; held < _options.EffectiveStagingBuffers; held++)
            {
                await _permits.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (held > 0)
            {
                _permits.Release(held);
            }
        }

        // And the retirements (stale copies being zeroed) that those writes started.
        while (true)
        {
            Task changed;
            lock (_table.Lock)
            {
                if (_zeroing == 0)
                {
                    return;
                }

                changed = ChangedLocked();
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for writes in flight, then makes everything written durable (<c>fdatasync</c> on every file).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        await DrainAsync(cancellationToken).ConfigureAwait(false);
        foreach (var f in _files)
        {
            if (f.Sync() != 0)
            {
                RecordIoError("sync");
            }
        }
    }

    /// <summary>Snapshot of resident keys (for tests and diagnostics; allocates).</summary>
    public ChunkKey[] ResidentKeys() => _table.ResidentKeys();

    /// <summary>The file and byte offset of a resident chunk's header, where its encoded form begins (for tests and tools that inspect the files).</summary>
    public bool TryLocate(in ChunkKey key, out string path, out long offset)
    {
        int slot;
        bool found;
        lock (_table.Lock)
        {
            found = _table.TryGetLocked(key, out slot);
        }

        if (found)
        {
            path = FileOf(slot).Path;
            offset = OffsetOf(slot) + HeaderOffset;
            return true;
        }

        path = "";
        offset = 0;
        return false;
    }


    /// <summary>Waits for writes in flight, then closes the files and releases the directory.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        DetachPriorities();
        for (int i = 0; i < _options.EffectiveStagingBuffers; i++)
        {
            _permits.Wait();
            _readPermits.Wait();
        }

        // Retirements run without a permit: wait for the last zeroed headers before the files close.
        var spin = new SpinWait();
        while (Volatile.Read(ref _zeroing) > 0)
        {
            spin.SpinOnce();
        }

        _engine.Dispose();
        foreach (var f in _files)
        {
            f.Dispose();
        }

        foreach (var b in _allBuffers)
        {
            DirectIoMemory.Free(b.Pointer);
        }

        foreach (var b in _headerPages)
        {
            DirectIoMemory.Free(b.Pointer);
        }

        foreach (var b in _frames)
        {
            DirectIoMemory.Free(b.Pointer);
        }

        NativeMemory.AlignedFree((void*)_zeroPage);
        _lockStream.Dispose();
        Curves?.Dispose();
    }

    private void ValidateWrite(KvLayout layout, int length)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (length == 0 || length > _options.SlotBytes || length != layout.ChunkBytes)
        {
            throw new ArgumentException($"A chunk for the SSD tier must have exactly the layout's chunk size {layout.ChunkBytes} bytes and at most the slot size {_options.SlotBytes}; got {length}.", "payload");
        }
    }

    private unsafe StagingBuffer RentBuffer()
    {
        if (_buffers.TryPop(out var b))
        {
            return b;
        }

        // At most EffectiveStagingBuffers exist: a caller holds a permit before renting. Huge pages: a write from
        // physically scattered pages reaches the disk as several times more, smaller requests (DirectIoMemory).
        // Zeroed once: the bytes before the header in a slot's first page stay zero.
        var p = DirectIoMemory.Allocate(_stride);

        b = new StagingBuffer(this, p);
        lock (_allBuffers)
        {
            _allBuffers.Add(b);
        }

        return b;
    }

    private BlockFile FileOf(int slot) => _files[slot / _slotsPerFile];

    private long OffsetOf(int slot) => (slot % _slotsPerFile) * _stride;

    private void RecordIoError(string operation)
    {
        Interlocked.Increment(ref _ioErrors);
        if (_counters is not null)
        {
            _metrics!.RecordIoError(_counters, operation);
        }
    }

    private void Log(string message) => (_options.Log ?? (static m => Console.Error.WriteLine(m)))(message);

    private void LogOnce(ref int flag, string message)
    {
        if (Interlocked.Exchange(ref flag, 1) == 0)
        {
            Log(message);
        }
    }
}
