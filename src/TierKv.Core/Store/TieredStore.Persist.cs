
namespace TierKv.Store;

/// <summary>Persist, drain and delete across every tier.</summary>
public sealed partial class TieredStore
{
    /// <summary>
    /// Writes every DRAM-resident chunk that the tier below DRAM lacks down to it and waits for all background
    /// writes: after it, a restarted process finds everything this one held. Returns the chunks written.
    /// </summary>
    public async Task<int> PersistAsync(CancellationToken cancellationToken = default)
    {
        if (_dram is null || _writeBehind is not { } lower)
        {
            return 0;
        }

        int written = 0;
        foreach (var key in _dram.ResidentKeys())
        {
            if (!_dram.TryDescribe(key, out var layout, out var parent, out long version) || HoldsBelow(lower, key, version))
            {
                continue;
            }

            // At shutdown every copy counts: wait for room as long as it takes (the writes below always complete).
            if (!await lower.ReserveWriteBehindAsync(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            if (!_dram.TryAcquire(key, out var lease))
            {
                lower.ReleaseWriteBehindReservation();
                continue;
            }

            try
            {
                var s = lower.WriteBehindReserved(layout!, key, parent, lease.Span, lease.Version);
                if (s == TierWriteStatus.Stored)
                {
                    written++;
                    Metrics.RecordWrite(_counters[_lower], lease.Length, 0);
                }
            }
            catch (Exception ex) when (MediumFaults.Is(ex, cancellationToken))
            {
                Metrics.RecordIoError(_counters[_lower], "write");
            }
            finally
            {
                lease.Dispose();
            }
        }

        await DrainAsync(cancellationToken).ConfigureAwait(false);
        return written;
    }

    /// <summary>Completes when every background write to slower tiers started so far has finished.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken = default)
    {
        foreach (var t in _tiers)
        {
            if (t is IWriteBehindTier w)
            {
                await w.DrainAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Deletes a chunk from every tier (serialized with commits and eviction hand-overs of the same key), with its
    /// priority and pin; returns whether any tier held it.
    /// </summary>
    public async ValueTask<bool> RemoveAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        var stripe = StripeOf(key);
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool any = false;
            foreach (var t in _tiers)
            {
                any |= await t.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
            }

            Priorities.Forget(key);
            return any;
        }
        finally
        {
            stripe.Release();
        }
    }
}
