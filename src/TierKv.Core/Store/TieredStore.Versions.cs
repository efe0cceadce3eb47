
namespace TierKv.Store;

/// <summary>
/// Versioned values (docs/core.md, "Versions"): a key that is overwritten (the server's <c>SET</c>) carries a version
/// from one clock per store, and the newest version wins in every tier, in every hand-over between tiers and in
/// recovery. Content-addressed chunks use version 0 (equal keys, equal bytes: the first copy wins).
/// </summary>
public sealed partial class TieredStore
{
    private long _version;

    /// <summary>
    /// The next version for an overwrite of a key: above every version this store or its tiers hold, including what
    /// the tier below DRAM recovered at open.
    /// </summary>
    public long NextVersion() => Interlocked.Increment(ref _version);

    /// <summary>
    /// Hands the committed DRAM copy of a versioned value to the tier below (the server's write-through), obeying
    /// <see cref="TieredStoreOptions.WriteBackOverflow"/>: with <see cref="WriteBackOverflow.Wait"/> it awaits room in
    /// the write-behind queue (bounded by <see cref="TieredStoreOptions.WriteBackWaitTimeout"/>, counted), and sheds only
    /// when the time runs out. A copy that could not be queued leaves no older version below (it is removed), and the
    /// DRAM copy still reaches the tier below on eviction.
    /// </summary>
    /// <returns>The status of the copy below (<see cref="TierWriteStatus.Stored"/> when queued).</returns>
    public async ValueTask<TierWriteStatus> WriteBelowAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ChunkLease lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (_writeBehind is not { } lower)
        {
            return TierWriteStatus.Stored;
        }

        long version = lease.Version;
        if (HoldsBelow(lower, key, version))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        long t0 = Stopwatch.GetTimestamp();
        bool room = _options.WriteBackOverflow == WriteBackOverflow.Wait
            ? await ReserveRoomAsync(cancellationToken).ConfigureAwait(false)
            : lower.ReserveWriteBehind(TimeSpan.Zero, cancellationToken);
        TierWriteStatus s;
        if (!room)
        {
            s = ShedForNoRoom();
            Interlocked.Increment(ref _shed);
        }
        else
        {
            try
            {
                s = lower.WriteBehindReserved(layout, key, parent, lease.Span, version);
            }
            catch (Exception ex) when (ex is not ArgumentException and not ObjectDisposedException)
            {
                Metrics.RecordIoError(_counters[_lower], "write");
                s = TierWriteStatus.Failed;
            }
        }

        if (s == TierWriteStatus.Stored)
        {
            Metrics.RecordWrite(_counters[_lower], lease.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        else if (s != TierWriteStatus.AlreadyPresent)
        {
            ForgetOlderBelow(lower, key, version);
        }

        return s;
    }

    /// <summary>
    /// A newer version of <paramref name="key"/> was committed to DRAM only (write-back): an older copy below is removed
    /// now, so that neither a crash nor a shed write-back can bring the overwritten value back.
    /// </summary>
    public void DropOlderBelow(in ChunkKey key, long version)
    {
        if (_writeBehind is { } lower)
        {
            ForgetOlderBelow(lower, key, version);
        }
    }

    /// <summary>Whether the tier below holds <paramref name="key"/> at <paramref name="version"/> or newer (any copy, for version 0).</summary>
    private static bool HoldsBelow(IWriteBehindTier lower, in ChunkKey key, long version) =>
        version == 0 ? lower.Contains(key) : lower.TryGetVersion(key, out long held) && held >= version;

    /// <summary>
    /// A newer version could not be copied below: an older one left there would be served once DRAM lets the newer go,
    /// so it is removed (a miss is allowed; an overwritten value never is).
    /// </summary>
    private static void ForgetOlderBelow(IWriteBehindTier lower, in ChunkKey key, long version)
    {
        if (version > 0 && lower.TryGetVersion(key, out long held) && held < version)
        {
            // The key leaves the index before the first await; the rest (zeroing the copy on disk) runs on.
            _ = lower.RemoveAsync(key).AsTask();
        }
    }
}
