namespace TierKv.Curves;

/// <summary>
/// The estimator off the serving path (<see cref="MissRatioCurveOptions.Background"/>), as Caffeine buffers reads
/// and replays them on a maintenance thread: <see cref="Observe"/> appends the access to an
/// <see cref="ObservationRing"/> under the tier's lock, and a thread of the estimator's own simulates the ring in order.
/// Nothing is dropped: when the ring is full the tier simulates a batch itself (<see cref="InlineDrains"/>). The worker
/// sleeps when the ring is empty; the tier wakes it once a quarter of the ring has come in, and only when it sleeps,
/// so the serving path has no per-access fence, interlocked operation or system call.
/// </summary>
public sealed partial class MissRatioCurveEstimator : IDisposable
{
    // Accesses a drainer simulates per hold of the drain lock: a tier that finds the ring full waits at most for the
    // worker's current batch (about 50 us at 200 ns an access).
    private const int MaxBatch = 256;
    private const int WorkerStackBytes = 256 << 10;

    private readonly object _drainLock = new();
    private readonly ObservationRing? _ring;
    private readonly SemaphoreSlim? _wake;
    private readonly Thread? _worker;
    private readonly long _wakeMask;
    private readonly int _batch;
    private int _sleeping;
    private volatile bool _stopping;
    private long _inlineDrains;
    private double _workerCpuSeconds = double.NaN;

    /// <summary>Whether a background thread simulates the accesses (<see cref="MissRatioCurveOptions.Background"/>).</summary>
    public bool Background => _ring is not null;

    /// <summary>Times the tier found the ring full and simulated a batch itself, on the serving path.</summary>
    public long InlineDrains => Volatile.Read(ref _inlineDrains);

    /// <summary>
    /// Processor time the background thread has run (its own clock, Linux), as of its last sleep; null inline or off
    /// Linux. Work the tier or a reader did themselves (inline drains, catching up) is on their threads' clocks.
    /// </summary>
    public double? BackgroundCpuSeconds => Volatile.Read(ref _workerCpuSeconds) is var s && double.IsNaN(s) ? null : s;

    /// <summary>Whether the background thread is running (false inline and after <see cref="Dispose"/>).</summary>
    internal bool WorkerAlive => _worker is { IsAlive: true };

    /// <summary>
    /// Stops the background thread (after it simulates the ring's backlog). The estimator stays usable: accesses after
    /// this are simulated by the tier when the ring fills, and by readers.
    /// </summary>
    public void Dispose()
    {
        if (_worker is null || _stopping)
        {
            return;
        }

        _stopping = true;
        Interlocked.Exchange(ref _sleeping, 0);
        _wake!.Release();
        _worker.Join();

        // The semaphore is not disposed: a tier racing this Dispose may still release it once (it holds no handle).
    }

    private void Append(in ChunkKey key, ChunkKey? parent)
    {
        var ring = _ring!;
        if (!ring.TryAppend(key, parent))
        {
            DrainInline(ring);
            bool appended = ring.TryAppend(key, parent);
            Debug.Assert(appended, "a drained ring has room");
        }

        // Tail and the sleeping flag are the Dekker pair of the worker's check before it sleeps (Work): one of the two
        // sees the other's store, so an access is never left behind a sleeping worker past the next quarter.
        if ((ring.Tail & _wakeMask) == 0)
        {
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _sleeping) != 0 && Interlocked.Exchange(ref _sleeping, 0) != 0)
            {
                _wake!.Release();
            }
        }
    }

    private void DrainInline(ObservationRing ring)
    {
        lock (_drainLock)
        {
            long head = ring.Head;
            if (ring.Tail - head >= ring.Capacity)
            {
                DrainLocked(ring, head + _batch);
                _inlineDrains++;
            }
        }
    }

    // Simulates every access appended before the call (readers see what was observed before they asked).
    private void CatchUpLocked()
    {
        if (_ring is { } ring)
        {
            DrainLocked(ring, ring.Tail);
        }
    }

    private void DrainLocked(ObservationRing ring, long until)
    {
        long head = ring.Head;
        for (long p = head; p < until; p++)
        {
            var key = ring.At(p, out var parent);
            Simulate(key, parent);
        }

        if (until > head)
        {
            ring.Consumed(until);
        }
    }

    private void Work()
    {
        var ring = _ring!;
        while (true)
        {
            long tail = ring.Tail;
            if (tail != ring.Head)
            {
                lock (_drainLock)
                {
                    long head = ring.Head;
                    DrainLocked(ring, Math.Min(ring.Tail, head + _batch));
                }

                continue;
            }

            if (_stopping)
            {
                break;
            }

            RecordCpu();
            Interlocked.Exchange(ref _sleeping, 1);
            if (ring.Tail != ring.Head || _stopping)
            {
                // If the tier cleared the flag first, its release makes the next wait return at once: harmless.
                Interlocked.Exchange(ref _sleeping, 0);
                continue;
            }

            _wake!.Wait();
        }

        RecordCpu();
    }

    private void RecordCpu()
    {
        if (ThreadCpuClock.Now() is { } s)
        {
            Volatile.Write(ref _workerCpuSeconds, s);
        }
    }
}
