using System.Collections.Concurrent;

namespace TierKv.Nvme.Io;

/// <summary>
/// Runs the SSD tier's positioned reads and writes with many in flight, on threads of its own (caller code never runs
/// on them, and the thread pool never blocks in a syscall). Two ways to reach the device: <see cref="ThreadIoEngine"/>
/// (threads blocking in <c>pread</c>/<c>pwrite</c>) and <see cref="IoUringEngine"/> (one ring thread submitting and
/// reaping through io_uring); <see cref="Create"/> picks one (docs/ssd-tier.md, "I/O").
/// </summary>
internal abstract class IoEngine : IDisposable
{
    private readonly ConcurrentBag<IoRequest> _pool = [];

    protected IoEngine(IMediumFaults? faults) => Faults = faults;

    /// <summary>What <see cref="IoSubmission.Auto"/> means: the path measured faster (docs/ssd-tier.md, "I/O").</summary>
    public const IoSubmission AutoSubmission = IoSubmission.IoUring;

    /// <summary>Injected faults (tests, the probe); null in production.</summary>
    public IMediumFaults? Faults { get; }

    /// <summary>How requests reach the device: <c>threads</c> or <c>io_uring</c>.</summary>
    public abstract string Mode { get; }

    /// <summary>Threads the engine runs.</summary>
    public abstract int Threads { get; }

    /// <summary>
    /// The engine <paramref name="options"/> ask for. <see cref="IoSubmission.IoUring"/> (and <see cref="IoSubmission.Auto"/>,
    /// see <see cref="AutoSubmission"/>) try io_uring first (a ring, then one read of <paramref name="probe"/>'s first page through it) and fall back to
    /// threads with one line to <paramref name="log"/> when the kernel refuses it.
    /// </summary>
    public static IoEngine Create(NvmeTierOptions options, BlockFile probe, Action<string> log)
    {
        var wanted = options.Submission == IoSubmission.Auto ? AutoSubmission : options.Submission;
        if (wanted == IoSubmission.IoUring)
        {
            var ring = IoUringEngine.TryCreate(options, probe, log, out string failure);
            if (ring is not null)
            {
                return ring;
            }

            log($"SSD tier '{options.Name}': io_uring unavailable ({failure}); using I/O threads.");
        }

        return new ThreadIoEngine(options, options.Faults);
    }

    public IoRequest Rent() => _pool.TryTake(out var r) ? r : new IoRequest(this);

    public void Return(IoRequest request) => _pool.Add(request);

    /// <summary>Queues a request; await <see cref="IoRequest.AsValueTask"/> for the result (bytes, or a negative errno).</summary>
    public abstract void Submit(IoRequest request);

    /// <summary>Queues a request and returns its result (bytes, or a negative errno) as a value task.</summary>
    public ValueTask<long> RunAsync(IoRequest request)
    {
        var vt = request.AsValueTask();
        Submit(request);
        return vt;
    }

    /// <summary>Waits for the requests in flight, then stops the engine's threads.</summary>
    public abstract void Dispose();
}
