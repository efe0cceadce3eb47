namespace TierKv.Store;

/// <summary>
/// The one decision of which exceptions from a tier are faults of its medium (a disk, a network, a cluster), which the
/// store turns into a miss or a failed write and counts, and which reach the caller. A tier should report trouble as a
/// status; one that throws anyway is still only a miss (docs/core.md, "Failures").
/// </summary>
internal static class MediumFaults
{
    /// <summary>
    /// Whether <paramref name="ex"/>, thrown by a tier during a call made with <paramref name="ct"/>, is a fault of the
    /// medium. Not: a bad argument (the caller's bug), a disposed store or tier (shut down), or the cancellation the
    /// caller asked for. A cancellation the caller did not ask for is a tier's timeout, so a fault.
    /// </summary>
    public static bool Is(Exception ex, CancellationToken ct) =>
        ex is not ArgumentException and not ObjectDisposedException && !(ex is OperationCanceledException && ct.IsCancellationRequested);

    /// <summary>
    /// Whether <paramref name="ex"/> ends work no caller waits for (a prefetch, an eviction's hand-over) quietly: every
    /// exception but a bad argument, since a shutdown or cancellation there must not escape into another operation.
    /// </summary>
    public static bool EndsBackgroundWork(Exception ex) => ex is not ArgumentException;
}
