
using TierKv.Memory;

namespace TierKv.Store;

/// <summary>
/// Versioned values (docs/core.md, "Versions"): a key that is overwritten (the server's <c>SET</c>) carries a version
/// from one clock per store, and the newest version wins in every tier, in every hand-over between tiers and in
/// recovery. Content-addressed chunks use version 0 (equal keys, equal bytes: the first copy wins).
/// </summary>
public sealed partial class TieredStore
{
    private readonly SemaphoreSlim[] _keyStripes = CreateStripes();
    private long _version;

    /// <summary>
    /// The next version for an overwrite of a key: above every version this store or its tiers hold, including what
    /// the tier below DRAM recovered at open.
    /// </summary>
    public long NextVersion() => Interlocked.Increment(ref _version);

    /// <summary>
    /// Publishes a value the caller filled in a DRAM reservation (the server's SET and KV.PUT). An overwrite gets the
    /// next version and replaces the held value atomically. With write-through the copy below is queued before this
    /// completes, obeying <see cref="TieredStoreOptions.WriteBackOverflow"/> (with <see cref="WriteBackOverflow.Wait"/>
    /// it awaits room, bounded by <see cref="TieredStoreOptions.WriteBackWaitTimeout"/>, counted); a copy that could not
    /// be queued leaves no older version below, and the DRAM copy reaches the tier below on eviction. With write-back an
    /// older copy below is dropped now, so a crash cannot bring it back.
    /// </summary>
    /// <remarks>
    /// Commits, deletes and eviction hand-overs of one key are serialized (a stripe of per-key locks), so a copy on its
    /// way to the tier below can never land after a delete that already removed the value.
    /// </remarks>
    public ValueTask<TierWriteStatus> CommitValueAsync(KvLayout layout, ChunkWriteReservation reservation, ChunkKey? parent, bool overwrite, CancellationToken cancellationToken = default) =>
        CommitValueAsync(layout, reservation, parent, overwrite, condition: null, cancellationToken);

    /// <summary>
    /// <see cref="CommitValueAsync(KvLayout, ChunkWriteReservation, ChunkKey?, bool, CancellationToken)"/> that first
    /// asks <paramref name="condition"/> about the key while the key's lock is held (the server's <c>SET NX</c> and
    /// <c>XX</c>): when it says no, the reservation is given back and <see cref="TierWriteStatus.ConditionNotMet"/>
    /// returned. Commits and deletes of the key cannot slip between the question and the publish.
    /// </summary>
    public async ValueTask<TierWriteStatus> CommitValueAsync(KvLayout layout, ChunkWriteReservation reservation, ChunkKey? parent, bool overwrite, Func<ChunkKey, bool>? condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var dram = _dram ?? throw new InvalidOperationException("The store has no DRAM tier to commit into.");
        var stripe = StripeOf(reservation.Key);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (condition is not null && !condition(reservation.Key))
            {
                dram.AbortWrite(reservation);
                return TierWriteStatus.ConditionNotMet;
            }

            long version = overwrite ? NextVersion() : 0;
            var status = dram.CommitWrite(layout, reservation, parent, version);
            if (status != TierWriteStatus.Stored)
            {
                return status;
            }

            if (_writeBehind is { } lower && _options.WriteMode != LowerTierWriteMode.WriteThrough)
            {
                ForgetOlderBelow(lower, reservation.Key, version);
            }

            bool below = _writeBehind is not null && _options.WriteMode == LowerTierWriteMode.WriteThrough;
            if ((below || _remoteTiers.Length > 0) && dram.TryAcquire(reservation.Key, out var lease))
            {
                try
                {
                    // Copies never fail the command: DRAM holds the value, and its eviction tries the tier below again.
                    if (below)
                    {
                        await WriteBelowAsync(_writeBehind!, layout, reservation.Key, parent, lease, cancellationToken).ConfigureAwait(false);
                    }

                    await ShareValueAsync(layout, reservation.Key, parent, lease, version, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    lease.Dispose();
                }
            }

            return status;
        }
        finally
        {
            stripe.Release();
        }
    }

    private async ValueTask<TierWriteStatus> WriteBelowAsync(IWriteBehindTier lower, KvLayout layout, ChunkKey key, ChunkKey? parent, ChunkLease lease, CancellationToken cancellationToken)
    {
        long version = lease.Version;
        if (HoldsBelow(lower, key, version))
        {
            return TierWriteStatus.AlreadyPresent;
        }

        long t0 = Stopwatch.GetTimestamp();
        var gate = _gate!;
        bool room = gate.Waits ? await gate.ReserveAsync(cancellationToken).ConfigureAwait(false) : gate.TryReserveNow(cancellationToken);
        TierWriteStatus s;
        if (!room)
        {
            s = gate.Shed();
            Interlocked.Increment(ref _shed);
        }
        else
        {
            try
            {
                s = lower.WriteBehindReserved(layout, key, parent, lease.Span, version);
            }
            catch (Exception ex) when (MediumFaults.Is(ex, CancellationToken.None))
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
    /// Shares a committed value with the remote tiers while its key's stripe is held, so two commits of one key reach
    /// the cluster in order. A newer version replaces the held one (<see cref="IReplacingTier"/>); when it cannot, the
    /// cluster's copy is deleted, since the cluster keeps no versions and would serve the older value once this node
    /// lets the newer go. A cluster that fails is counted and skipped: the value is in DRAM.
    /// </summary>
    private async ValueTask ShareValueAsync(KvLayout layout, ChunkKey key, ChunkKey? parent, ChunkLease lease, long version, CancellationToken cancellationToken)
    {
        if (_remoteTiers.Length == 0)
        {
            return;
        }

        using var memory = new NativeMemoryManager(lease.Pointer, lease.Length);
        foreach (int r in _remoteTiers)
        {
            var tier = _tiers[r];
            long t0 = Stopwatch.GetTimestamp();
            var s = TierWriteStatus.Failed;
            try
            {
                s = version > 0 && tier is IReplacingTier replacing
                    ? await replacing.ReplaceAsync(layout, key, parent, memory.Memory, cancellationToken).ConfigureAwait(false)
                    : await tier.WriteAsync(layout, key, parent, memory.Memory, cancellationToken).ConfigureAwait(false);
                if (s == TierWriteStatus.Stored)
                {
                    Metrics.RecordWrite(_counters[r], lease.Length, Stopwatch.GetElapsedTime(t0).TotalSeconds);
                }
                else if (s != TierWriteStatus.AlreadyPresent && version > 0)
                {
                    await tier.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (MediumFaults.Is(ex, cancellationToken))
            {
                Metrics.RecordIoError(_counters[r], "write");
            }
        }
    }

    /// <summary>
    /// DRAM's eviction hand-over, serialized with commits and deletes of the same key: a victim that a delete or a newer
    /// commit took out of DRAM while it waited is not copied down.
    /// </summary>
    private void OfferEvicted(KvLayout layout, in ChunkKey key, ChunkKey? parent, ReadOnlySpan<byte> payload, long version, ref bool roomHeld)
    {
        var stripe = StripeOf(key);
        stripe.Wait();
        try
        {
            if (_dram is { } dram && !(dram.TryGetVersion(key, out long held) && held == version))
            {
                return;
            }

            OfferToLower(layout, key, parent, payload, version, ref roomHeld);
        }
        finally
        {
            stripe.Release();
        }
    }

    private SemaphoreSlim StripeOf(in ChunkKey key) => _keyStripes[key.GetHashCode() & (_keyStripes.Length - 1)];

    private static SemaphoreSlim[] CreateStripes()
    {
        var stripes = new SemaphoreSlim[64];
        for (int i = 0; i < stripes.Length; i++)
        {
            stripes[i] = new SemaphoreSlim(1, 1);
        }

        return stripes;
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
