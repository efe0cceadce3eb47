using System.Collections.Concurrent;

namespace TierKv.Nvme.Io;

/// <summary>
/// Keeps many positioned reads and writes in flight: a fixed set of dedicated threads blocking in
/// <c>pread</c>/<c>pwrite</c>, at most the queue depth of them in a syscall at once. Dedicated threads rather than the thread pool, because blocking
/// syscalls would starve the pool on a small machine. (io_uring would save the threads; on this workload of
/// multi-megabyte I/Os the syscall cost is negligible, so it is not used: see docs/ssd-tier.md.)
/// </summary>
internal sealed class IoEngine : IDisposable
{
    private readonly BlockingCollection<IoRequest> _queue = new(new ConcurrentQueue<IoRequest>());
    private readonly ConcurrentBag<IoRequest> _pool = [];
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim _device;

    /// <summary>
    /// <paramref name="queueDepth"/> syscalls in flight at most, run by twice as many threads: while some threads
    /// checksum (before a write, after a read), the others keep the device's queue full.
    /// </summary>
    public IoEngine(int queueDepth, string name, IMediumFaults? faults = null)
    {
        Faults = faults;
        int threads = 2 * queueDepth;
        _device = new SemaphoreSlim(queueDepth, queueDepth);
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"{name}-io-{i}" };
            _threads[i].Start();
        }
    }

    public int Threads => _threads.Length;

    /// <summary>Injected faults (tests, the probe); null in production.</summary>
    public IMediumFaults? Faults { get; }

    /// <summary>Waits for one of the queue-depth slots of the device (called on an I/O thread, right before the syscall).</summary>
    public void EnterDevice() => _device.Wait();

    /// <summary>Gives the slot back right after the syscall.</summary>
    public void LeaveDevice() => _device.Release();

    public IoRequest Rent() => _pool.TryTake(out var r) ? r : new IoRequest(this);

    public void Return(IoRequest request) => _pool.Add(request);

    /// <summary>Queues a request; await <see cref="IoRequest.AsValueTask"/> for the result (bytes, or a negative errno).</summary>
    public void Submit(IoRequest request) => _queue.Add(request);

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
        foreach (var t in _threads)
        {
            t.Join();
        }

        _queue.Dispose();
        _device.Dispose();
    }

    private void Run()
    {
        foreach (var r in _queue.GetConsumingEnumerable())
        {
            r.Execute();
        }
    }
}
