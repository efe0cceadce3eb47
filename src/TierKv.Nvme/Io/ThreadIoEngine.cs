using System.Collections.Concurrent;

namespace TierKv.Nvme.Io;

/// <summary>
/// The thread path: dedicated threads blocking in <c>pread</c>/<c>pwrite</c>, at most the queue depth of writes in a
/// syscall at once. Dedicated threads rather than the thread pool, because blocking syscalls would starve the pool on a
/// small machine. Reads have their own queue and threads: a read never waits behind a burst of queued writes
/// (docs/ssd-tier.md, "Reads under a write burst"). The fallback where io_uring is refused.
/// </summary>
internal sealed class ThreadIoEngine : IoEngine
{
    private readonly BlockingCollection<IoRequest> _queue = new(new ConcurrentQueue<IoRequest>());
    private readonly BlockingCollection<IoRequest> _reads = new(new ConcurrentQueue<IoRequest>());
    private readonly ConcurrentQueue<IoRequest> _ready = new();
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _device;

    /// <summary>
    /// <see cref="NvmeTierOptions.QueueDepth"/> writes in flight at most, run by twice as many threads (while some copy
    /// and checksum, the others keep the device's queue full), and as many reads, each on its own thread (a read
    /// checksums after its syscall, while the other reads are in theirs).
    /// </summary>
    public ThreadIoEngine(NvmeTierOptions options, IMediumFaults? faults)
        : base(faults)
    {
        int queueDepth = options.QueueDepth;
        string name = options.Name;
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

    public override string Mode => "threads";

    public override int Threads => _threads.Length;

    /// <summary>
    /// Runs a prepared write at once when one of the queue-depth write slots is free; else leaves it in the ready queue,
    /// and the thread that finishes a write takes it and issues it without giving up the slot. So the next write enters
    /// the device the moment one leaves, on a thread that is already running, as in a raw loop of blocking writes:
    /// handing the slot to a blocked thread instead (a semaphore wait) left the device a scheduling delay short of a
    /// write after every completion, tens of milliseconds on a loaded 2-core machine.
    /// </summary>
    private void IssueWrite(IoRequest request)
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

    public override void Submit(IoRequest request) => (request.IsWrite ? _queue : _reads).Add(request);

    public override void Dispose()
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

    private void Run(object? queue)
    {
        // Prepare (copy, checksum), then a read goes straight to its syscall, and a write to the device when a write
        // slot is free, else it is left for the thread that next finishes a write (IssueWrite).
        foreach (var r in ((BlockingCollection<IoRequest>)queue!).GetConsumingEnumerable())
        {
            r.Prepare?.Invoke(r);
            if (r.IsWrite)
            {
                IssueWrite(r);
            }
            else
            {
                r.Finish(r.Transfer());
            }
        }
    }
}
