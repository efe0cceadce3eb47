namespace TierKv.Nvme.Io;

/// <summary>
/// Which queued I/O enters the device next, with a read preference like the deadline scheduler's: a read is admitted
/// before every queued write (up to <c>reads</c> in flight), and while any read waits or runs at most
/// <c>writesDuringReads</c> writes are kept in the device, so a chunk read does not queue behind the tier's own
/// write-behind burst. Otherwise up to <c>writes</c> writes run. FIFO within reads and within writes. Not thread-safe:
/// one thread (the engine's ring thread) owns it. Queues grow to their peak once and then allocate nothing.
/// </summary>
/// <typeparam name="T">The request type.</typeparam>
internal sealed class IoAdmission<T>
    where T : class
{
    private readonly Queue<T> _reads = new();
    private readonly Queue<T> _writes = new();
    private readonly int _readLimit;
    private readonly int _writeLimit;
    private readonly int _writesDuringReads;

    /// <param name="reads">Reads in flight at most.</param>
    /// <param name="writes">Writes in flight at most while no read waits or runs.</param>
    /// <param name="writesDuringReads">Writes in flight at most, for admitting another, while a read waits or runs (at least 1, at most <paramref name="writes"/>).</param>
    public IoAdmission(int reads, int writes, int writesDuringReads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(reads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(writes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(writesDuringReads, 1);
        _readLimit = reads;
        _writeLimit = writes;
        _writesDuringReads = Math.Min(writesDuringReads, writes);
    }

    public int ReadsInFlight { get; private set; }

    public int WritesInFlight { get; private set; }

    public int QueuedReads => _reads.Count;

    public int QueuedWrites => _writes.Count;

    /// <summary>True when nothing is queued or in flight.</summary>
    public bool IsIdle => ReadsInFlight + WritesInFlight + _reads.Count + _writes.Count == 0;

    /// <summary>The most writes admitted now: fewer while a read waits or runs.</summary>
    public int WriteLimit => ReadsInFlight + _reads.Count > 0 ? _writesDuringReads : _writeLimit;

    public void Enqueue(T request, bool isWrite) => (isWrite ? _writes : _reads).Enqueue(request);

    /// <summary>The next request to start, counted in flight until <see cref="Completed"/>; false when none may start now.</summary>
    public bool TryNext(out T request, out bool isWrite)
    {
        if (_reads.Count > 0 && ReadsInFlight < _readLimit)
        {
            ReadsInFlight++;
            isWrite = false;
            request = _reads.Dequeue();
            return true;
        }

        if (_writes.Count > 0 && WritesInFlight < WriteLimit)
        {
            WritesInFlight++;
            isWrite = true;
            request = _writes.Dequeue();
            return true;
        }

        request = null!;
        isWrite = false;
        return false;
    }

    /// <summary>A request from <see cref="TryNext"/> left the device.</summary>
    public void Completed(bool isWrite)
    {
        if (isWrite)
        {
            WritesInFlight--;
        }
        else
        {
            ReadsInFlight--;
        }
    }
}
