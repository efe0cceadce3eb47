namespace TierKv.Store;

/// <summary>
/// The gate in front of the write-behind tier below DRAM: room in its bounded queue is reserved before a chunk is
/// handed to it. With <see cref="WriteBackOverflow.Wait"/> a reservation waits once, bounded by
/// <see cref="TieredStoreOptions.WriteBackWaitTimeout"/>, blocking the thread or awaited; after a wait ran out, later
/// ones do not wait until room is found again (a hung disk costs one timeout, not one per chunk). A chunk that found no
/// room is shed and counted. The room a caller reserves travels explicitly with its write (a <c>ref bool</c> to the
/// eviction sink), so whoever took it gives back what was not spent.
/// </summary>
internal sealed class WriteBehindGate(IWriteBehindTier lower, TieredStoreOptions options, TierKvMetrics metrics, TierCounters lowerCounters)
{
    private long _waits;
    private long _waitTimeouts;
    private int _tripped;

    /// <summary>Whether a chunk without room waits for some (<see cref="WriteBackOverflow.Wait"/>) rather than being shed at once.</summary>
    public bool Waits => options.WriteBackOverflow == WriteBackOverflow.Wait;

    /// <summary>Reservations that found the queue full and waited.</summary>
    public long WaitCount => Interlocked.Read(ref _waits);

    /// <summary>Waits that ran out of time.</summary>
    public long WaitTimeouts => Interlocked.Read(ref _waitTimeouts);

    /// <summary>How long to wait for room now: not at all while a timeout is unresolved.</summary>
    private TimeSpan Wait => Volatile.Read(ref _tripped) != 0 ? TimeSpan.Zero : options.WriteBackWaitTimeout;

    /// <summary>Reserves room only if there is some now.</summary>
    public bool TryReserveNow(CancellationToken ct = default) => lower.ReserveWriteBehind(TimeSpan.Zero, ct);

    /// <summary>Gives back room reserved and not spent.</summary>
    public void Release() => lower.ReleaseWriteBehindReservation();

    /// <summary>Reserves room, blocking the calling thread at most the wait; false when there is none.</summary>
    public bool Reserve()
    {
        var reserved = Reserve(block: true, CancellationToken.None);
        Debug.Assert(reserved.IsCompleted, "a blocking reservation completes synchronously");
        return reserved.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Reserves room, awaiting it at most the wait without blocking a thread; false when there is none. Throws
    /// <see cref="OperationCanceledException"/> when <paramref name="ct"/> fires (nothing held then).
    /// </summary>
    public ValueTask<bool> ReserveAsync(CancellationToken ct) => Reserve(block: false, ct);

    /// <summary>A chunk that found no room in time: shed and counted.</summary>
    public TierWriteStatus Shed()
    {
        metrics.RecordRejection(lowerCounters, "queue_full");
        return TierWriteStatus.NotAdmitted;
    }

    /// <summary>The room protocol, written once: room now, else one bounded wait (counted), blocking or awaited.</summary>
    private async ValueTask<bool> Reserve(bool block, CancellationToken ct)
    {
        if (lower.ReserveWriteBehind(TimeSpan.Zero, ct))
        {
            Found();
            return true;
        }

        var wait = Wait;
        if (wait == TimeSpan.Zero)
        {
            return false;
        }

        Interlocked.Increment(ref _waits);
        bool room = block ? lower.ReserveWriteBehind(wait, ct) : await lower.ReserveWriteBehindAsync(wait, ct).ConfigureAwait(false);
        if (room)
        {
            Found();
            metrics.RecordWriteBackWait(timedOut: false);
            return true;
        }

        Interlocked.Increment(ref _waitTimeouts);
        metrics.RecordWriteBackWait(timedOut: true);
        Volatile.Write(ref _tripped, 1);
        return false;
    }

    private void Found()
    {
        if (Volatile.Read(ref _tripped) != 0)
        {
            Volatile.Write(ref _tripped, 0);
        }
    }
}
