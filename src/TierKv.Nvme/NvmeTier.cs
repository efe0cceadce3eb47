using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TierKv.Chunks;
using TierKv.Eviction;
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
public sealed class NvmeTier : IWriteBehindTier, IEvictionCandidates
{
    private const byte Free = 0;
    private const byte Writing = 1;
    private const byte Ready = 2;
    private const byte Detached = 3;
    private const byte Unbacked = 4;
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

    private static readonly Action<long, object?> WriteBehindDone = static (r, s) => ((StagingBuffer)s!).Owner.CompleteWriteBehind(r, (StagingBuffer)s);

    private readonly NvmeTierOptions _options;
    private readonly object _lock = new();
    private readonly SlotIndex _index;
    private readonly EvictionPolicy _policy;
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

    private readonly ChunkKey[] _keys;
    private readonly ChunkKey[] _fingerprints;
    private readonly int[] _lengths;
    private readonly int[] _pins;
    private readonly byte[] _states;
    private readonly SlotLineage _lineage;
    private readonly ChunkKey[] _parentKey;
    private readonly bool[] _hasParent;
    private readonly int[] _freeStack;
    private int _freeCount;
    private int _backedSlots;
    private long _usedBytes;
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
        _policy = EvictionPolicies.Create(options.EvictionPolicy, _slots);
        _keys = new ChunkKey[_slots];
        _index = new SlotIndex(_keys);
        _fingerprints = new ChunkKey[_slots];
        _lengths = new int[_slots];
        _pins = new int[_slots];
        _states = new byte[_slots];
        _lineage = new SlotLineage(_slots);
        _parentKey = new ChunkKey[_slots];
        _hasParent = new bool[_slots];
        _freeStack = new int[_slots];

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
        _engine = new IoEngine(options.QueueDepth, options.Name);
        try
        {
            _files = OpenFiles();
            Recover();
        }
        catch
        {
            _engine.Dispose();
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
    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    /// <inheritdoc />
    public long ChunkCount => _index.Count;

    /// <inheritdoc />
    public bool HasLocalIndex => true;

    /// <summary>The settings the tier was opened with.</summary>
    public NvmeTierOptions Options => _options;

    /// <summary>True when I/O bypasses the page cache (<c>O_DIRECT</c>).</summary>
    public bool IsDirect { get; private set; }

    /// <summary><c>O_DIRECT</c>, or <c>buffered</c> with the reason the file system gave.</summary>
    public string IoMode { get; private set; } = "";

    /// <summary>Slots in the files (some may lack disk space: see <see cref="CapacityBytes"/>).</summary>
    public int SlotCount => _slots;

    /// <summary>Bytes each slot takes in its file.</summary>
    public long SlotStride => _stride;

    /// <summary>The eviction policy in use.</summary>
    public string PolicyName => _policy.Name;

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

    /// <summary>Chunks evicted to make room.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <inheritdoc />
    public bool Contains(in ChunkKey key) => _index.Contains(key);

    /// <inheritdoc />
    public ValueTask ExistsAsync(KvLayout layout, ReadOnlyMemory<ChunkKey> keys, Memory<bool> present, CancellationToken cancellationToken = default)
    {
        var k = keys.Span;
        var p = present.Span;
        for (int i = 0; i < k.Length; i++)
        {
            p[i] = _index.Contains(k[i]);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask<TierReadStatus> ReadAsync(KvLayout layout, ChunkKey key, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!TryPin(key, out int slot, out int length))
        {
            return TierReadStatus.Miss;
        }

        StagingBuffer? buf = null;
        bool permit = false;
        System.Buffers.MemoryHandle pin = default;
        try
        {
            if (destination.Length < length)
            {
                throw new ArgumentException($"The destination holds {destination.Length} bytes but the chunk has {length}.", nameof(destination));
            }

            await _permits.WaitAsync(cancellationToken).ConfigureAwait(false);
            permit = true;
            buf = RentBuffer();
            pin = destination.Pin();
            nint dest = PointerOf(pin);
            var req = _engine.Rent();
            req.File = FileOf(slot);
            req.Offset = OffsetOf(slot);
            req.IsWrite = false;
            bool direct = IsPageAligned(dest, length);
            if (direct)
            {
                // Zero copy: the header page into the staging buffer, the payload straight into the caller's memory.
                req.Segment0 = new IoSegment(buf.Pointer, BlockFile.Alignment);
                req.Segment1 = new IoSegment(dest, length);
                req.SegmentCount = 2;
            }
            else
            {
                req.SetBuffer(buf.Pointer, BlockFile.Alignment + NvmeTierOptions.AlignUp(length));
            }

            buf.Layout = layout;
            buf.Key = key;
            buf.PayloadLength = length;
            buf.Payload = direct ? dest : 0;
            buf.Destination = dest;
            buf.Damage = ChunkDamage.None;
            req.State = buf;
            req.AfterIo = VerifyOnIoThread;
            long r = await _engine.RunAsync(req).ConfigureAwait(false);
            if (r < 0)
            {
                RecordIoError("read");
                Drop(slot, key);
                return TierReadStatus.Failed;
            }

            var damage = buf.Damage;
            if (damage != ChunkDamage.None)
            {
                Interlocked.Increment(ref _damagedReads);
                if (_counters is not null)
                {
                    _metrics!.RecordChecksumFailure(_counters, damage.ToString());
                }

                Drop(slot, key);
                return TierReadStatus.Damaged;
            }

            return TierReadStatus.Hit;
        }
        finally
        {
            pin.Dispose();
            if (buf is not null)
            {
                buf.Layout = null;
                _buffers.Push(buf);
            }

            if (permit)
            {
                _permits.Release();
            }

            Unpin(slot);
        }
    }

    /// <inheritdoc />
    public async ValueTask<TierWriteStatus> WriteAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ValidateWrite(layout, payload.Length);
        if (_index.Contains(key))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        await _permits.WaitAsync(cancellationToken).ConfigureAwait(false);
        var buf = RentBuffer();
        var pin = payload.Pin();
        try
        {
            var s = Reserve(key, out int slot);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }

            nint src = PointerOf(pin);
            var req = PrepareWrite(buf, slot, layout, key, parent, payload.Length, src, copyOnIoThread: true);
            long r = await _engine.RunAsync(req).ConfigureAwait(false);
            return Complete(slot, r, layout, key, parent, payload.Length, buf.Sequence);
        }
        finally
        {
            pin.Dispose();
            buf.Layout = null;
            _buffers.Push(buf);
            _permits.Release();
        }
    }

    /// <inheritdoc />
    public TierWriteStatus TryWriteBehind(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload)
    {
        ValidateWrite(layout, payload.Length);
        if (_index.Contains(key))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        if (!_permits.Wait(0))
        {
            // Bounded: under overload the chunk is shed, not queued.
            Interlocked.Increment(ref _shed);
            if (_counters is not null)
            {
                _metrics!.RecordRejection(_counters, "queue_full");
            }

            return TierWriteStatus.NotAdmitted;
        }

        return WriteBehindHoldingPermit(layout, key, parent, payload);
    }

    /// <inheritdoc />
    public ValueTask<bool> ReserveWriteBehindAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        cancellationToken.ThrowIfCancellationRequested();

        // The common case (room now) allocates nothing; only a real wait makes a task.
        return _permits.Wait(0) ? ValueTask.FromResult(true) : timeout == TimeSpan.Zero ? ValueTask.FromResult(false) : new ValueTask<bool>(_permits.WaitAsync(timeout, cancellationToken));
    }

    /// <inheritdoc />
    public bool ReserveWriteBehind(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        // Permits come back from the I/O threads (CompleteWriteBehind) or from readers and writers that are themselves
        // waiting only on the I/O threads, so blocking here cannot keep them from coming back.
        return _permits.Wait(timeout, cancellationToken);
    }

    /// <inheritdoc />
    public TierWriteStatus WriteBehindReserved(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload)
    {
        bool handedOver = false;
        try
        {
            ValidateWrite(layout, payload.Length);
            if (_index.Contains(key))
            {
                return TierWriteStatus.AlreadyPresent;
            }

            handedOver = true;
            return WriteBehindHoldingPermit(layout, key, parent, payload);
        }
        finally
        {
            if (!handedOver)
            {
                _permits.Release();
            }
        }
    }

    /// <inheritdoc />
    public void ReleaseWriteBehindReservation() => _permits.Release();

    /// <summary>The write-behind proper, for a caller holding one permit: the permit goes with the write (released at its completion) or back at once.</summary>
    private unsafe TierWriteStatus WriteBehindHoldingPermit(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload)
    {
        StagingBuffer? buf = null;
        bool submitted = false;
        try
        {
            buf = RentBuffer();
            var s = Reserve(key, out int slot);
            if (s != TierWriteStatus.Stored)
            {
                return s;
            }

            // The span is valid only during this call: copy now; checksum on the I/O thread.
            payload.CopyTo(new Span<byte>((void*)(buf.Pointer + BlockFile.Alignment), payload.Length));
            var req = PrepareWrite(buf, slot, layout, key, parent, payload.Length, 0, copyOnIoThread: false);
            req.Completion = WriteBehindDone;
            req.State = buf;
            _engine.Submit(req);
            submitted = true;
            return TierWriteStatus.Stored;
        }
        finally
        {
            if (!submitted)
            {
                if (buf is not null)
                {
                    _buffers.Push(buf);
                }

                _permits.Release();
            }
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

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        bool owned;
        int slot;
        lock (_lock)
        {
            if (!_index.TryGet(key, out slot))
            {
                return false;
            }

            DetachLocked(slot);
            owned = _pins[slot] == 0;
            if (owned)
            {
                _states[slot] = Writing;
            }
        }

        if (!owned)
        {
            return true; // the last reader frees it; its bytes stay until the slot is reused.
        }

        // Zero the header so a deleted chunk does not come back at the next open.
        await _permits.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        var buf = RentBuffer();
        try
        {
            ClearBlock(buf.Pointer);
            long r = await _engine.WriteAsync(FileOf(slot), buf.Pointer, BlockFile.Alignment, OffsetOf(slot), false).ConfigureAwait(false);
            if (r < 0)
            {
                RecordIoError("remove");
            }
        }
        finally
        {
            _buffers.Push(buf);
            _permits.Release();
            lock (_lock)
            {
                ReleaseLocked(slot);
            }
        }

        return true;
    }

    /// <summary>Snapshot of resident keys (for tests and diagnostics; allocates).</summary>
    public ChunkKey[] ResidentKeys()
    {
        lock (_lock)
        {
            return _index.SnapshotKeys();
        }
    }

    /// <summary>The file and byte offset of a resident chunk's header, where its encoded form begins (for tests and tools that inspect the files).</summary>
    public bool TryLocate(in ChunkKey key, out string path, out long offset)
    {
        if (_index.TryGet(key, out int slot))
        {
            path = FileOf(slot).Path;
            offset = OffsetOf(slot) + HeaderOffset;
            return true;
        }

        path = "";
        offset = 0;
        return false;
    }

    bool IEvictionCandidates.CanEvict(int slot) => _states[slot] == Ready && Volatile.Read(ref _pins[slot]) == 0;

    bool IEvictionCandidates.IsLeaf(int slot) => _lineage.IsLeaf(slot);

    /// <summary>Waits for writes in flight, then closes the files and releases the directory.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        for (int i = 0; i < _options.EffectiveStagingBuffers; i++)
        {
            _permits.Wait();
        }

        _engine.Dispose();
        foreach (var f in _files)
        {
            f.Dispose();
        }

        foreach (var b in _allBuffers)
        {
            NativeMemory.AlignedFree((void*)b.Pointer);
        }

        _lockStream.Dispose();
    }

    internal void CompleteWriteBehind(long result, StagingBuffer buf)
    {
        try
        {
            Complete(buf.Slot, result, buf.Layout!, buf.Key, buf.Parent, buf.PayloadLength, buf.Sequence);
        }
        finally
        {
            buf.Layout = null;
            _buffers.Push(buf);
            _permits.Release();
        }
    }

    private static unsafe void ClearBlock(nint buffer) => new Span<byte>((void*)buffer, BlockFile.Alignment).Clear();

    private static unsafe nint PointerOf(System.Buffers.MemoryHandle pin) => (nint)pin.Pointer;

    private static bool IsPageAligned(nint pointer, int length) => pointer % BlockFile.Alignment == 0 && length % BlockFile.Alignment == 0;

    /// <summary>Checks what a read brought in. <paramref name="directPayload"/> is the caller's buffer when the payload went straight there.</summary>
    private static unsafe ChunkDamage VerifyRead(nint staging, nint directPayload, long bytesRead, int length, KvLayout layout, in ChunkKey key, nint destinationPointer)
    {
        var destination = new Span<byte>((void*)destinationPointer, length);
        if (bytesRead < BlockFile.Alignment + (long)length)
        {
            return ChunkDamage.Truncated;
        }

        if (directPayload != 0)
        {
            var damage = ChunkHeader.TryRead(new ReadOnlySpan<byte>((void*)(staging + HeaderOffset), ChunkHeader.Size), out var header);
            if (damage == ChunkDamage.None)
            {
                damage = ChunkCodec.VerifyHeader(header, layout.Fingerprint, key, layout.ChunkBytes);
            }

            if (damage == ChunkDamage.None && ChunkHeader.PayloadHash(new ReadOnlySpan<byte>((void*)directPayload, length)) != header.PayloadChecksum)
            {
                damage = ChunkDamage.BadChecksum;
            }

            return damage;
        }

        var encoded = new ReadOnlySpan<byte>((void*)(staging + HeaderOffset), ChunkHeader.Size + length);
        var d = ChunkCodec.Verify(encoded, layout, key, out var payload);
        if (d == ChunkDamage.None)
        {
            payload.CopyTo(destination);
        }

        return d;
    }

    /// <summary>
    /// Fills a write request for <paramref name="slot"/>. The slot gets one page whose last 64 bytes are the header, then
    /// the payload, then the trailer, padded to the page size; the payload is (or is copied on the I/O thread) in the
    /// staging buffer after its header page.
    /// </summary>
    private IoRequest PrepareWrite(StagingBuffer buf, int slot, KvLayout layout, in ChunkKey key, ChunkKey? parent, int length, nint source, bool copyOnIoThread)
    {
        buf.Slot = slot;
        buf.Layout = layout;
        buf.Key = key;
        buf.Parent = parent;
        buf.PayloadLength = length;
        buf.Sequence = Interlocked.Increment(ref _sequence);
        var req = _engine.Rent();
        req.File = FileOf(slot);
        req.Offset = OffsetOf(slot);
        req.IsWrite = true;
        req.SyncAfterWrite = _options.SyncWrites;
        req.Prepare = EncodeOnIoThread;
        req.State = buf;
        // Always one contiguous transfer from the staging buffer. Writing a page-aligned caller buffer in place (a
        // three-piece pwritev: header page, payload, trailer page) measured 0.56 to 0.61 of raw here against 0.78 to
        // 0.93 for copy-then-pwrite. Not the vectoring: the same pwritev of three pieces all in the staging buffer ran
        // as fast as one pwrite, while copying as usual but sending the caller's buffer was as slow as zero copy, so
        // the disk path is slower from the caller's memory itself (docs/ssd-tier.md). The copy runs on the I/O thread.
        buf.Payload = buf.Pointer + BlockFile.Alignment;
        buf.CopyFrom = copyOnIoThread ? source : 0;
        req.SetBuffer(buf.Pointer, BlockFile.Alignment + NvmeTierOptions.AlignUp(length + (long)SlotTrailer.Size));
        return req;
    }

    /// <summary>Runs on the I/O thread: copy if needed, checksum the payload, write header and trailer.</summary>
    private static unsafe void Encode(IoRequest req)
    {
        var buf = (StagingBuffer)req.State!;
        int len = buf.PayloadLength;
        byte* p = (byte*)buf.Pointer;
        ulong hash;
        if (buf.CopyFrom != 0)
        {
            // Copy and checksum in one pass: each piece is hashed while it is still in the cache (a third less memory
            // traffic than copying 32 MiB and then reading it back to hash it). Same value as the one-shot XXH3-64.
            const int piece = 256 << 10;
            var hasher = buf.Hasher;
            hasher.Reset();
            byte* src = (byte*)buf.CopyFrom;
            byte* dst = p + BlockFile.Alignment;
            for (int off = 0; off < len; off += piece)
            {
                int n = Math.Min(piece, len - off);
                if (Avx.IsSupported)
                {
                    // Hash the source piece (that brings it into the cache), then copy it with non-temporal stores:
                    // the staging buffer is only read by the disk, so pulling its lines into the cache first (what a
                    // plain copy does) wastes a third of the memory traffic. Measured put/raw median 0.91 against
                    // 0.88 for copy-then-hash (docs/ssd-tier.md).
                    hasher.Append(new ReadOnlySpan<byte>(src + off, n));
                    StreamCopy(src + off, dst + off, n);
                }
                else
                {
                    var d = new Span<byte>(dst + off, n);
                    new ReadOnlySpan<byte>(src + off, n).CopyTo(d);
                    hasher.Append(d);
                }
            }

            hash = hasher.GetCurrentHashAsUInt64();
        }
        else
        {
            hash = ChunkHeader.PayloadHash(new ReadOnlySpan<byte>((void*)buf.Payload, len));
        }

        new ChunkHeader(buf.Layout!.Fingerprint, buf.Key, len, hash).WriteTo(new Span<byte>(p + HeaderOffset, ChunkHeader.Size));
        SlotTrailer.Write(new Span<byte>(p + BlockFile.Alignment + len, SlotTrailer.Size), buf.Key, buf.Parent, buf.Sequence);
    }

    /// <summary>Copies with non-temporal 32-byte stores; <paramref name="dst"/> is 32-byte aligned (inside a page-aligned staging buffer).</summary>
    private static unsafe void StreamCopy(byte* src, byte* dst, int n)
    {
        int i = 0;
        for (; i + 128 <= n; i += 128)
        {
            var a = Vector256.Load(src + i);
            var b = Vector256.Load(src + i + 32);
            var c = Vector256.Load(src + i + 64);
            var d = Vector256.Load(src + i + 96);
            Avx.StoreAlignedNonTemporal(dst + i, a);
            Avx.StoreAlignedNonTemporal(dst + i + 32, b);
            Avx.StoreAlignedNonTemporal(dst + i + 64, c);
            Avx.StoreAlignedNonTemporal(dst + i + 96, d);
        }

        new ReadOnlySpan<byte>(src + i, n - i).CopyTo(new Span<byte>(dst + i, n - i));

        // Non-temporal stores are weakly ordered: fence so they are complete before the header is written and the
        // buffer goes to pwrite from this thread.
        Sse.StoreFence();
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

        // At most EffectiveStagingBuffers exist: a caller holds a permit before renting.
        var p = (nint)NativeMemory.AlignedAlloc((nuint)_stride, BlockFile.Alignment);
        if (p == 0)
        {
            throw new OutOfMemoryException($"Could not allocate an SSD staging buffer of {_stride} bytes.");
        }

        // Zeroed once: the bytes before the header in a slot's first page stay zero.
        new Span<byte>((void*)p, (int)_stride).Clear();

        b = new StagingBuffer(this, p);
        lock (_allBuffers)
        {
            _allBuffers.Add(b);
        }

        return b;
    }

    private BlockFile FileOf(int slot) => _files[slot / _slotsPerFile];

    private long OffsetOf(int slot) => (slot % _slotsPerFile) * _stride;

    private TierWriteStatus Reserve(in ChunkKey key, out int slot)
    {
        slot = -1;
        int victim = -1;
        lock (_lock)
        {
            if (_index.Contains(key))
            {
                return TierWriteStatus.AlreadyPresent;
            }

            if (Stopwatch.GetTimestamp() < _admissionStoppedUntil)
            {
                // The disk was full a moment ago: decline stores for a while, keep serving reads.
                return RejectNoSpaceLocked();
            }

            if (_freeCount > 0)
            {
                slot = _freeStack[--_freeCount];
            }
            else
            {
                victim = _policy.SelectVictim(key, this);
                if (victim < 0)
                {
                    if (_counters is not null)
                    {
                        _metrics!.RecordRejection(_counters, "all_pinned");
                    }

                    return TierWriteStatus.NoSpace;
                }

                DetachLocked(victim);
                slot = victim;
            }

            _states[slot] = Writing;
        }

        if (victim >= 0)
        {
            Interlocked.Increment(ref _evictions);
            if (_counters is not null)
            {
                _metrics!.RecordEviction(_counters);
            }
        }

        return TierWriteStatus.Stored;
    }

    private TierWriteStatus RejectNoSpaceLocked()
    {
        Interlocked.Increment(ref _noSpace);
        if (_counters is not null)
        {
            _metrics!.RecordRejection(_counters, "no_space");
        }

        return TierWriteStatus.NoSpace;
    }

    private TierWriteStatus Complete(int slot, long result, KvLayout layout, in ChunkKey key, ChunkKey? parent, int length, long sequence)
    {
        if (result < 0)
        {
            lock (_lock)
            {
                if (result == -LibC.ENoSpc)
                {
                    // The slot has no disk blocks (a sparse file on a full disk): retire it and pause admission.
                    _states[slot] = Unbacked;
                    _backedSlots--;
                    Volatile.Write(ref _admissionStoppedUntil, Stopwatch.GetTimestamp() + Stopwatch.Frequency);
                    LogOnce(ref _loggedNoSpace, $"SSD tier '{Name}': the disk under '{_options.Directory}' is full; stores are declined (counted as no_space) while reads go on.");
                    return RejectNoSpaceLocked();
                }

                ReleaseLocked(slot);
            }

            RecordIoError("write");
            return TierWriteStatus.Failed;
        }

        lock (_lock)
        {
            if (_index.Contains(key))
            {
                // Another writer stored the same chunk meanwhile: keep theirs.
                ReleaseLocked(slot);
                return TierWriteStatus.AlreadyPresent;
            }

            PublishLocked(slot, key, layout.Fingerprint, length, parent);
        }

        return TierWriteStatus.Stored;
    }

    private void PublishLocked(int slot, in ChunkKey key, in ChunkKey fingerprint, int length, ChunkKey? parent)
    {
        _keys[slot] = key;
        _fingerprints[slot] = fingerprint;
        _lengths[slot] = length;
        _hasParent[slot] = parent.HasValue;
        int parentSlot = -1;
        if (parent is { } p)
        {
            _parentKey[slot] = p;
            if (_index.TryGet(p, out int ps))
            {
                parentSlot = ps;
            }
        }

        _lineage.Attach(slot, parentSlot);

        _states[slot] = Ready;
        _index.Add(key, slot);
        _policy.OnInsert(slot, key, parent);
        _usedBytes += length;
    }

    private bool TryPin(in ChunkKey key, out int slot, out int length)
    {
        lock (_lock)
        {
            if (!_index.TryGet(key, out slot))
            {
                length = 0;
                return false;
            }

            Debug.Assert(_states[slot] == Ready, "indexed slots are ready");
            _pins[slot]++;
            _policy.OnHit(slot);
            length = _lengths[slot];
            return true;
        }
    }

    private void Unpin(int slot)
    {
        lock (_lock)
        {
            if (--_pins[slot] == 0 && _states[slot] == Detached)
            {
                ReleaseLocked(slot);
            }
        }
    }

    /// <summary>A read found the slot damaged or unreadable: make it invisible (the last reader frees it).</summary>
    private void Drop(int slot, in ChunkKey key)
    {
        lock (_lock)
        {
            if (_states[slot] == Ready && _keys[slot] == key)
            {
                DetachLocked(slot);
            }
        }
    }

    private void DetachLocked(int slot)
    {
        bool indexed = _index.RemoveSlot(slot);
        Debug.Assert(indexed, "only published slots are detached");
        _policy.OnRemove(slot);
        _lineage.Detach(slot);
        _usedBytes -= _lengths[slot];
        _states[slot] = Detached;
    }

    private void ReleaseLocked(int slot)
    {
        _states[slot] = Free;
        _lineage.Retire(slot);
        _freeStack[_freeCount++] = slot;
    }

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

    private BlockFile[] OpenFiles()
    {
        string dir = _options.Directory;
        int fileCount = (_slots + _slotsPerFile - 1) / _slotsPerFile;
        string meta = $"format={MetaFormat}\nslot_stride={_stride}\nslots_per_file={_slotsPerFile}\n";
        string metaPath = System.IO.Path.Combine(dir, MetaFile);
        if (File.Exists(metaPath) && File.ReadAllText(metaPath) != meta)
        {
            // Another slot geometry: the old files cannot be read slot by slot, so the tier starts cold.
            Log($"SSD tier '{Name}': '{dir}' holds files of another slot size; starting empty.");
            foreach (var f in Directory.EnumerateFiles(dir, "ssd-*.chunks"))
            {
                File.Delete(f);
            }
        }

        foreach (var f in Directory.EnumerateFiles(dir, "ssd-*.chunks"))
        {
            if (!int.TryParse(System.IO.Path.GetFileNameWithoutExtension(f).AsSpan(4), out int n) || n >= fileCount)
            {
                File.Delete(f); // capacity shrank since the last run
            }
        }

        File.WriteAllText(metaPath, meta);
        var files = new BlockFile[fileCount];
        bool direct = _options.UseDirectIo;
        bool diskFull = false;
        try
        {
            for (int i = 0; i < fileCount; i++)
            {
                int slotsHere = Math.Min(_slotsPerFile, _slots - (i * _slotsPerFile));
                long bytes = slotsHere * _stride;
                var f = files[i] = BlockFile.Open(System.IO.Path.Combine(dir, $"ssd-{i:D5}.chunks"), direct);
                if (f.Length > bytes)
                {
                    f.SetLength(bytes);
                }

                int backed = diskFull ? 0 : Provision(f, bytes, slotsHere);
                if (backed < slotsHere)
                {
                    diskFull = true;
                }

                for (int s = 0; s < slotsHere; s++)
                {
                    _states[(i * _slotsPerFile) + s] = s < backed ? Free : Unbacked;
                }

                _backedSlots += backed;
                if (i == 0 && direct && !f.ConfirmDirect())
                {
                    direct = false;
                }

                if (i == 0)
                {
                    IsDirect = f.IsDirect;
                    IoMode = f.IsDirect ? "O_DIRECT" : $"buffered ({f.FallbackReason ?? "O_DIRECT not requested"})";
                    if (!f.IsDirect && _options.UseDirectIo)
                    {
                        Log($"SSD tier '{Name}': {f.FallbackReason} in '{dir}'; using buffered I/O (the page cache will hold tier data).");
                    }
                }
            }
        }
        catch
        {
            foreach (var f in files)
            {
                f?.Dispose();
            }

            throw;
        }

        if (diskFull)
        {
            Interlocked.Increment(ref _noSpace);
            if (_counters is not null)
            {
                _metrics!.RecordRejection(_counters, "no_space");
            }

            _loggedNoSpace = 1;
            Log($"SSD tier '{Name}': only {_backedSlots} of {_slots} slots fit on the disk under '{dir}'; capacity is {CapacityBytes} bytes.");
        }

        return files;
    }

    /// <summary>Reserves the file's blocks; returns how many leading slots have disk space.</summary>
    private int Provision(BlockFile f, long bytes, int slots)
    {
        if (!_options.Preallocate)
        {
            return f.SetLength(bytes) == 0 ? slots : 0;
        }

        int e = f.Allocate(0, bytes);
        if (e == 0)
        {
            return slots;
        }

        if (e == LibC.EOpNotSupp)
        {
            // No fallocate here: a sparse file; a full disk then shows as ENOSPC at write time.
            return f.SetLength(bytes) == 0 ? slots : 0;
        }

        // Out of space (or another refusal): take what fits, slot by slot.
        int s = 0;
        while (s < slots && f.Allocate(s * _stride, _stride) == 0)
        {
            s++;
        }

        f.SetLength(Math.Max(s, 1) * _stride);
        return s;
    }

    private unsafe void Recover()
    {
        long t0 = Stopwatch.GetTimestamp();
        var found = new RecoveredSlot[_slots];
        int damaged = 0;
        int scanned = 0;
        var po = new ParallelOptions { MaxDegreeOfParallelism = _options.QueueDepth };
        Parallel.For(
            0,
            _slots,
            po,
            () => (nint)NativeMemory.AlignedAlloc((nuint)_stride, BlockFile.Alignment),
            (slot, _, buffer) =>
            {
                if (_states[slot] == Unbacked)
                {
                    return buffer;
                }

                Interlocked.Increment(ref scanned);
                var r = ScanSlot(slot, buffer);
                if (r.Damaged)
                {
                    Interlocked.Increment(ref damaged);
                }
                else
                {
                    found[slot] = r;
                }

                return buffer;
            },
            buffer => NativeMemory.AlignedFree((void*)buffer));

        var order = new List<int>();
        for (int s = 0; s < _slots; s++)
        {
            if (found[s].Valid)
            {
                order.Add(s);
            }
        }

        // Publish oldest first so the eviction policy sees the original write order.
        order.Sort((a, b) => found[a].Sequence != found[b].Sequence ? found[a].Sequence.CompareTo(found[b].Sequence) : a.CompareTo(b));
        int recovered = 0;
        int duplicates = 0;
        long maxSeq = 0;
        lock (_lock)
        {
            foreach (int s in order)
            {
                ref var r = ref found[s];
                if (_index.Contains(r.Key))
                {
                    duplicates++; // a slot holding another slot's chunk: keep one copy
                    continue;
                }

                PublishLocked(s, r.Key, r.Fingerprint, r.Length, r.HasParent ? r.Parent : null);
                recovered++;
                maxSeq = Math.Max(maxSeq, r.Sequence);
            }

            for (int s = _slots - 1; s >= 0; s--)
            {
                if (_states[s] == Free)
                {
                    _freeStack[_freeCount++] = s;
                }
            }
        }

        _sequence = maxSeq;
        int dropped = damaged + duplicates;
        if (dropped > 0 && _counters is not null)
        {
            for (int i = 0; i < dropped; i++)
            {
                _metrics!.RecordChecksumFailure(_counters, "recovery");
            }
        }

        Recovery = new NvmeRecoveryReport(scanned, recovered, damaged, duplicates, Stopwatch.GetElapsedTime(t0));
        if (recovered > 0 || dropped > 0)
        {
            Log($"SSD tier '{Name}': warm restart from '{_options.Directory}': {recovered} chunks recovered, {dropped} damaged or duplicate slots dropped, in {Recovery.Elapsed.TotalMilliseconds:F0} ms ({IoMode}).");
        }
    }

    private unsafe RecoveredSlot ScanSlot(int slot, nint buffer)
    {
        var file = FileOf(slot);
        long offset = OffsetOf(slot);
        long r = file.ReadAt(buffer, BlockFile.Alignment, offset);
        if (r < 0)
        {
            return new RecoveredSlot { Damaged = true };
        }

        var page = new ReadOnlySpan<byte>((void*)buffer, (int)r);
        if (!page.ContainsAnyExcept((byte)0))
        {
            return default; // never written, or removed
        }

        if (r < BlockFile.Alignment)
        {
            return new RecoveredSlot { Damaged = true }; // the file ends inside the header page
        }

        var damage = ChunkHeader.TryRead(page[HeaderOffset..], out var header);
        if (damage != ChunkDamage.None || header.PayloadLength <= 0 || header.PayloadLength > _options.SlotBytes)
        {
            return new RecoveredSlot { Damaged = true };
        }

        int len = (int)header.PayloadLength;
        long end = BlockFile.Alignment + NvmeTierOptions.AlignUp(len + (long)SlotTrailer.Size);
        long start = _options.VerifyOnRecovery ? BlockFile.Alignment : (BlockFile.Alignment + len) / BlockFile.Alignment * BlockFile.Alignment;
        long got = file.ReadAt(buffer + (nint)start, end - start, offset + start);
        if (got < 0 || start + got < BlockFile.Alignment + (long)len + SlotTrailer.Size)
        {
            return new RecoveredSlot { Damaged = true };
        }

        if (_options.VerifyOnRecovery)
        {
            var encoded = new ReadOnlySpan<byte>((void*)(buffer + HeaderOffset), ChunkHeader.Size + len);
            if (ChunkCodec.Verify(encoded, header.LayoutFingerprint, header.Key, len, out _) != ChunkDamage.None)
            {
                return new RecoveredSlot { Damaged = true };
            }
        }

        var trailer = new ReadOnlySpan<byte>((void*)(buffer + BlockFile.Alignment + len), SlotTrailer.Size);
        SlotTrailer.TryRead(trailer, header.Key, out long seq, out var parent);
        return new RecoveredSlot
        {
            Valid = true,
            Key = header.Key,
            Fingerprint = header.LayoutFingerprint,
            Length = len,
            Sequence = seq,
            HasParent = parent.HasValue,
            Parent = parent ?? default,
        };
    }

    private struct RecoveredSlot
    {
        public bool Valid;
        public bool Damaged;
        public ChunkKey Key;
        public ChunkKey Fingerprint;
        public int Length;
        public long Sequence;
        public bool HasParent;
        public ChunkKey Parent;
    }
}
