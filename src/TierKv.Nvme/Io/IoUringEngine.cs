using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;

namespace TierKv.Nvme.Io;

/// <summary>
/// The io_uring path. One ring thread submits and reaps every read and write: the kernel completes an O_DIRECT request
/// in its submitter's context, and a single thread that waits inside the ring posts completions the moment they come,
/// where several submitting threads would each have to be scheduled first on a loaded machine. It keeps
/// <see cref="NvmeTierOptions.QueueDepth"/> writes and as many reads in flight, in <see cref="IoAdmission{T}"/>'s order
/// (reads first; fewer writes while a read waits or runs). CPU work stays off it: prepare threads copy and checksum a
/// write before handing it over (overlapping the I/O of the writes before it), completion threads verify reads and run
/// write-behind callbacks, so a read never waits for a copy or checksum. A producer wakes the ring thread from its wait
/// through an eventfd whose read the ring keeps in flight (the doorbell).
/// </summary>
internal sealed unsafe class IoUringEngine : IoEngine
{
    private const ulong DoorbellTag = ulong.MaxValue;
    private const int PiecesPerSlot = 3;

    private readonly IoUring _ring;
    private readonly int _eventFd;
    private readonly Action<string> _log;
    private readonly IoAdmission<IoRequest> _admission;
    private readonly ConcurrentQueue<IoRequest> _incoming = new();
    private readonly BlockingCollection<IoRequest> _prepare = new(new ConcurrentQueue<IoRequest>());
    private readonly BlockingCollection<IoRequest> _complete = new(new ConcurrentQueue<IoRequest>());
    private readonly Thread _ringThread;
    private readonly Thread[] _preparers;
    private readonly Thread[] _completers;

    // At most one checksum per core at a time: when a burst hands over many writes at once, the first is ready after one
    // chunk's hashing instead of after all of them sharing the cores, so the device starts sooner (docs/ssd-tier.md).
    private readonly SemaphoreSlim _preparing;

    // Per in-flight slot (the SQE's user data): the request, bytes done and the first piece left (short transfers resume).
    private readonly IoRequest?[] _slots;
    private readonly long[] _done;
    private readonly int[] _first;
    private readonly int[] _count;
    private readonly Stack<int> _free;

    // Native, because the kernel reads the iovecs: PiecesPerSlot per slot, then the doorbell's 8 bytes and its iovec.
    private readonly byte* _native;
    private readonly IoSegment* _pieces;
    private readonly IoSegment* _doorbellIov;
    private int _staged;
    private int _sleeping;
    private int _loggedEnterError;
    private volatile bool _stopping;

    private IoUringEngine(NvmeTierOptions options, IoUring ring, int eventFd, Action<string> log)
        : base(options.Faults)
    {
        _ring = ring;
        _eventFd = eventFd;
        _log = log;
        int qd = options.QueueDepth;
        _admission = new IoAdmission<IoRequest>(qd, qd, options.EffectiveWritesDuringReads);
        int slots = 2 * qd;
        _slots = new IoRequest?[slots];
        _done = new long[slots];
        _first = new int[slots];
        _count = new int[slots];
        _free = new Stack<int>(slots);
        for (int i = slots - 1; i >= 0; i--)
        {
            _free.Push(i);
        }

        nuint bytes = (nuint)((slots * PiecesPerSlot * sizeof(IoSegment)) + sizeof(ulong) + sizeof(IoSegment));
        _native = (byte*)NativeMemory.AllocZeroed(bytes);
        _pieces = (IoSegment*)_native;
        ulong* doorbell = (ulong*)(_native + (slots * PiecesPerSlot * sizeof(IoSegment)));
        _doorbellIov = (IoSegment*)(doorbell + 1);
        *_doorbellIov = new IoSegment((nint)doorbell, sizeof(ulong));

        _preparing = new SemaphoreSlim(Math.Clamp(Environment.ProcessorCount, 1, qd));
        _ringThread = new Thread(Run) { IsBackground = true, Name = $"{options.Name}-uring" };
        _preparers = StartWorkers(qd, $"{options.Name}-io-p", _prepare, PrepareOne);
        _completers = StartWorkers(qd, $"{options.Name}-io-c", _complete, static r => r.Finish(r.Result));
    }

    public override string Mode => "io_uring";

    public override int Threads => 1 + _preparers.Length + _completers.Length;

    /// <summary>
    /// A running engine, or null and why not: the kernel refuses a ring (ENOSYS, EPERM from seccomp or
    /// <c>kernel.io_uring_disabled</c>, EINVAL on old kernels, ENOMEM for the locked-memory limit), or the first read of
    /// <paramref name="probe"/> through it fails.
    /// </summary>
    public static IoUringEngine? TryCreate(NvmeTierOptions options, BlockFile probe, Action<string> log, out string failure)
    {
        // Room for every slot plus the doorbell, so staging never finds the submission ring full.
        uint entries = BitOperations.RoundUpToPowerOf2((uint)((2 * options.QueueDepth) + 1));
        var ring = IoUring.TryCreate(entries, out failure);
        if (ring is null)
        {
            return null;
        }

        int efd = LibC.EventFd(0, LibC.EfdNonBlock | LibC.OCloExec);
        if (efd < 0)
        {
            failure = $"eventfd failed: {LibC.Describe(Marshal.GetLastPInvokeError())}";
            ring.Dispose();
            return null;
        }

        var engine = new IoUringEngine(options, ring, efd, log);
        long r = engine.ProbeRead(probe);
        if (r < 0)
        {
            failure = $"a first read through io_uring failed: {BlockFile.Describe(r)}";
            engine.Release();
            return null;
        }

        engine.Start();
        return engine;
    }

    public override void Submit(IoRequest request)
    {
        if (request.Prepare is not null)
        {
            _prepare.Add(request);
        }
        else
        {
            Enqueue(request);
        }
    }

    public override void Dispose()
    {
        _prepare.CompleteAdding();
        foreach (var t in _preparers)
        {
            t.Join();
        }

        _stopping = true;
        Wake();
        _ringThread.Join();
        _complete.CompleteAdding();
        foreach (var t in _completers)
        {
            t.Join();
        }

        Release();
    }

    private static Thread[] StartWorkers(int count, string name, BlockingCollection<IoRequest> queue, Action<IoRequest> work)
    {
        var threads = new Thread[count];
        for (int i = 0; i < count; i++)
        {
            threads[i] = new Thread(() =>
            {
                foreach (var r in queue.GetConsumingEnumerable())
                {
                    work(r);
                }
            }) { IsBackground = true, Name = $"{name}{i}" };
        }

        return threads;
    }

    private void PrepareOne(IoRequest request)
    {
        _preparing.Wait();
        try
        {
            request.Prepare!(request);
        }
        finally
        {
            _preparing.Release();
        }

        Enqueue(request);
    }

    private void Start()
    {
        _ringThread.Start();
        foreach (var t in _preparers)
        {
            t.Start();
        }

        foreach (var t in _completers)
        {
            t.Start();
        }
    }

    private void Release()
    {
        _ring.Dispose();
        LibC.Close(_eventFd);
        NativeMemory.Free(_native);
        _prepare.Dispose();
        _complete.Dispose();
        _preparing.Dispose();
    }

    private void Enqueue(IoRequest request)
    {
        _incoming.Enqueue(request);
        Wake();
    }

    /// <summary>Rings the doorbell when the ring thread said it is going to wait (so a busy ring thread costs no syscall).</summary>
    private void Wake()
    {
        if (Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            ulong one = 1;
            LibC.Write(_eventFd, &one, sizeof(ulong));
        }
    }

    /// <summary>One page at offset 0 through the ring, before any thread runs: some kernels set up a ring and then refuse the I/O.</summary>
    private long ProbeRead(BlockFile file)
    {
        void* page = NativeMemory.AlignedAlloc(BlockFile.Alignment, BlockFile.Alignment);
        try
        {
            _pieces[0] = new IoSegment((nint)page, BlockFile.Alignment);
            if (!_ring.TryGetSqe(out var sqe))
            {
                return -LibC.EAgain;
            }

            IoUring.PrepareVectored(sqe, IoUring.OpReadV, file.Descriptor, _pieces, 1, 0, 0);
            int e;
            while ((e = _ring.Enter(1)) == LibC.EIntr)
            {
            }

            if (e != 0)
            {
                return -e;
            }

            while (true)
            {
                if (_ring.TryReap(out var cqe))
                {
                    return cqe.Result;
                }

                if ((e = _ring.Enter(1)) is not 0 and not LibC.EIntr)
                {
                    return -e;
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(page);
        }
    }

    private void Run()
    {
        StageDoorbell();
        while (true)
        {
            Admit();
            if (_staged > 0)
            {
                Enter(0);
            }
            else
            {
                if (_stopping && _admission.IsIdle && _incoming.IsEmpty)
                {
                    return;
                }

                // About to wait: say so, then look once more, so a producer that queued meanwhile is either seen here or
                // rings the doorbell (both sides swap before they look: one of them sees the other).
                Interlocked.Exchange(ref _sleeping, 1);
                if (!_incoming.IsEmpty || (_stopping && _admission.IsIdle))
                {
                    Volatile.Write(ref _sleeping, 0);
                    continue;
                }

                Enter(1);
                Volatile.Write(ref _sleeping, 0);
            }

            Reap();
        }
    }

    private void Enter(uint waitFor)
    {
        int e = _ring.Enter(waitFor);
        _staged = 0;
        if (e is not 0 and not LibC.EIntr)
        {
            // EAGAIN/EBUSY: kernel resources short for a moment; the entries stay queued for the next call.
            if (Interlocked.Exchange(ref _loggedEnterError, 1) == 0)
            {
                _log($"io_uring_enter failed ({LibC.Describe(e)}); retrying.");
            }

            _staged = 1;
            Thread.Sleep(1);
        }
    }

    /// <summary>Moves new requests into the admission order and stages every one it lets into the device now.</summary>
    private void Admit()
    {
        while (_incoming.TryDequeue(out var r))
        {
            _admission.Enqueue(r, r.IsWrite);
        }

        while (_free.Count > 0 && _admission.TryNext(out var request, out bool isWrite))
        {
            int slot = _free.Pop();
            if (!request.BeginTransfer(new Span<IoSegment>(_pieces + (slot * PiecesPerSlot), PiecesPerSlot), out int count, out long result))
            {
                // An injected failure: nothing reaches the device.
                _free.Push(slot);
                _admission.Completed(isWrite);
                Complete(request, request.EndTransfer(result));
                continue;
            }

            _slots[slot] = request;
            _done[slot] = 0;
            _first[slot] = 0;
            _count[slot] = count;
            Stage(slot);
        }
    }

    private void Stage(int slot)
    {
        var request = _slots[slot]!;
        bool ok = _ring.TryGetSqe(out var sqe);
        System.Diagnostics.Debug.Assert(ok, "the ring has an entry for every slot");
        int first = _first[slot];
        IoUring.PrepareVectored(
            sqe,
            request.IsWrite ? IoUring.OpWriteV : IoUring.OpReadV,
            request.File!.Descriptor,
            _pieces + (slot * PiecesPerSlot) + first,
            _count[slot] - first,
            request.Offset + _done[slot],
            (ulong)slot);
        _staged++;
    }

    private void StageDoorbell()
    {
        _ring.TryGetSqe(out var sqe);
        IoUring.PrepareVectored(sqe, IoUring.OpReadV, _eventFd, _doorbellIov, 1, 0, DoorbellTag);
        _staged++;
    }

    private void Reap()
    {
        while (_ring.TryReap(out var cqe))
        {
            if (cqe.UserData == DoorbellTag)
            {
                StageDoorbell();
                continue;
            }

            int slot = (int)cqe.UserData;
            var request = _slots[slot]!;
            long r = cqe.Result;
            if (r is -LibC.EIntr or -LibC.EAgain)
            {
                Stage(slot);
                continue;
            }

            if (r > 0)
            {
                // The same resumption as BlockFile's loop: a short transfer goes on where it stopped.
                _done[slot] += r;
                _first[slot] = IoSegment.Skip(new Span<IoSegment>(_pieces + (slot * PiecesPerSlot), _count[slot]), _first[slot], r);
                if (_first[slot] < _count[slot])
                {
                    Stage(slot);
                    continue;
                }

                r = _done[slot];
            }
            else if (r == 0)
            {
                r = request.IsWrite ? -LibC.EIo : _done[slot]; // end of file on a read
            }

            _slots[slot] = null;
            _free.Push(slot);
            _admission.Completed(request.IsWrite);
            Complete(request, request.EndTransfer(r));
        }
    }

    /// <summary>
    /// Awaited requests without more work complete here (their continuation goes to the thread pool); awaited reads are
    /// verified on the thread pool, which then runs their continuation (one hop); the rest on a completion thread.
    /// </summary>
    private void Complete(IoRequest request, long result)
    {
        if (!request.IsWrite && request.Completion is null)
        {
            request.Result = result;
            ThreadPool.UnsafeQueueUserWorkItem(request, preferLocal: false);
        }
        else if (request.AfterIo is not null || request.SyncAfterWrite || request.Completion is not null)
        {
            request.Result = result;
            _complete.Add(request);
        }
        else
        {
            request.Finish(result);
        }
    }
}
