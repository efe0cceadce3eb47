using System.Collections.Concurrent;

namespace TierKv.Nvme.Io;

/// <summary>
/// Keeps many positioned reads and writes in flight: dedicated threads blocking in <c>pread</c>/<c>pwrite</c>, at most
/// the queue depth of writes in a syscall at once. Dedicated threads rather than the thread pool, because blocking
/// syscalls would starve the pool on a small machine. Reads have their own queue and threads: a read never waits behind
/// a burst of queued writes (docs/ssd-tier.md, "Reads under a write burst"). (Raw io_uring measured 9 to 13% faster
/// than these threads for 32 MiB writes on the development VM, reads equal; not implemented yet: docs/ssd-tier.md.)
/// </summary>
internal sealed class IoEngine : IDisposable
{
    private readonly BlockingCollection<IoRequest> _queue = new(new ConcurrentQueue<IoRequest>());
    private readonly BlockingCollection<IoRequest> _reads = new(new ConcurrentQueue<IoRequest>());
    private readonly ConcurrentQueue<IoRequest> _ready = new();
    private readonly ConcurrentBag<IoRequest> _pool = [];
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _device;

    /// <summary>
    /// <paramref name="queueDepth"/> writes in flight at most, run by twice as many threads (while some copy and
    /// checksum, the others keep the device's queue full), and <paramref name="queueDepth"/> reads, each on its own
    /// thread (a read checksums after its syscall, while the other reads are in theirs).
    /// </summary>
    public IoEngine(int queueDepth, string name, IMediumFaults? faults = null)
    {
        Faults = faults;
        int writers = 2 * queueDepth;
        _device = new SemaphoreSlim(queueDepth, queueDepth);
        _threads = new Thread[writers + queueDepth];
        for (int i = 0; i < _threads.Length; i++)
        {
            var queue = i < writers ? _queue : _reads;
            _threads[i] = new Thread(Run) { IsBackground = true, Name = i < writers ? $"{name}-io-w{i}" : $"{name}-io-r{i - writers}" };
            _threads[i].Start(queue);
        }
    }

    public int Threads => _threads.Length;

    /// <summary>Injected faults (tests, the probe); null in production.</summary>
    public IMediumFaults? Faults { get; }

    /// <summary>
    /// Runs a prepared write at once when one of the queue-depth write slots is free; else leaves it in the ready queue,
    /// and the thread that finishes a write takes it and issues it without giving up the slot. So the next write enters
    /// the device the moment one leaves, on a thread that is already running, as in a raw loop of blocking writes:
    /// handing the slot to a blocked thread instead (a semaphore wait) left the device a scheduling delay short of a
    /// write after every completion, tens of milliseconds on a loaded 2-core machine.
    /// </summary>
    public void IssueWrite(IoRequest request)
    {
        IoRequest? current = request;
        if (!_device.Wait(0))
        {
            _ready.Enqueue(request);

            // Every slot was busy: their holders look at the ready queue when they finish. A slot freed between the two
            // calls would not: look again, and run whatever is ready (possibly nothing: another thread took it).
            if (!_device.Wait(0))
            {
                return;
            }

            _ready.TryDequeue(out current);
        }

        while (true)
        {
            while (current is not null)
            {
                current.Finish(current.Transfer());
                _ready.TryDequeue(out current);
            }

            _device.Release();

            // A write left ready after the last look but before the release would wait for the next completion (or
            // forever, if none is in flight): take it now when a slot is still free.
            if (_ready.IsEmpty || !_device.Wait(0))
            {
                return;
            }

            _ready.TryDequeue(out current);
        }
    }

    public IoRequest Rent() => _pool.TryTake(out var r) ? r : new IoRequest(this);

    public void Return(IoRequest request) => _pool.Add(request);

    /// <summary>Queues a request; await <see cref="IoRequest.AsValueTask"/> for the result (bytes, or a negative errno).</summary>
    public void Submit(IoRequest request) => (request.IsWrite ? _queue : _reads).Add(request);

    /// <summary>Queues a request and returns its result (bytes, or a negative errno) as a value task.</summary>
    public ValueTask<long> RunAsync(IoRequest request)
    {
        var vt = request.AsValueTask();
        Submit(request);
        return vt;
    }

    public ValueTask<long> ReadAsync(BlockFile file, nint buffer, long length, long offset)
    {
        var r = Rent();
        r.File = file;
        r.SetBuffer(buffer, length);
        r.Offset = offset;
        r.IsWrite = false;
        return RunAsync(r);
    }

    public ValueTask<long> WriteAsync(BlockFile file, nint buffer, long length, long offset, bool sync)
    {
        var r = Rent();
        r.File = file;
        r.SetBuffer(buffer, length);
        r.Offset = offset;
        r.IsWrite = true;
        r.SyncAfterWrite = sync;
        return RunAsync(r);
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _reads.CompleteAdding();
        foreach (var t in _threads)
        {
            t.Join();
        }

        _queue.Dispose();
        _reads.Dispose();
        _device.Dispose();
    }

    private static void Run(object? queue)
    {
        foreach (var r in ((BlockingCollection<IoRequest>)queue!).GetConsumingEnumerable())
        {
            r.Execute();
        }
    }
}
