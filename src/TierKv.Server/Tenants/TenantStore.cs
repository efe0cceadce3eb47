using TierKv.Keys;
using TierKv.Server.Protocol;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Server.Tenants;

/// <summary>
/// The storage API between the protocol and a tenant's tiers: get, begin/commit/abort a put, exists, delete, count.
/// Values sit in fixed-size records (<see cref="ValueRecord"/>). <c>SET</c> overwrites: each committed value carries
/// a version from the store's clock, so the newest value wins in DRAM, in the copy below, across evictions, restarts
/// and crashes (docs/core.md, "Versions"); <c>KV.PUT</c> is content-addressed (the first copy wins).
/// </summary>
internal sealed class TenantStore
{
    private readonly Tenant _tenant;
    private readonly KvLayout _layout;
    private readonly int _recordBytes;

    public TenantStore(Tenant tenant, KvLayout valueLayout, int recordBytes)
    {
        _tenant = tenant;
        _layout = valueLayout;
        _recordBytes = recordBytes;
        Lower = tenant.Store.Tiers.Count > 1 ? tenant.Store.Tiers[1] as IWriteBehindTier : null;
    }

    /// <summary>The SSD tier below DRAM, if any.</summary>
    private IWriteBehindTier? Lower { get; }

    /// <summary>Bytes of one value record (the slot size of every tier).</summary>
    public int RecordBytes => _recordBytes;

    private HostMemoryTier Dram => _tenant.Dram;

    /// <summary>Pins the DRAM copy of <paramref name="key"/> and gives the value's length; false when DRAM lacks it.</summary>
    public bool TryGetInDram(in ChunkKey key, out ChunkLease lease, out int length)
    {
        length = -1;
        if (!Dram.TryAcquire(key, out lease))
        {
            return false;
        }

        length = ValueRecord.ReadLength(lease.Span);
        if (length < 0)
        {
            lease.Dispose();
            return false;
        }

        return true;
    }

    /// <summary>Whether a remote cluster sits under the local tiers (<see cref="ServerOptions.Remote"/>).</summary>
    public bool HasRemote
    {
        get
        {
            foreach (var t in _tenant.Store.Tiers)
            {
                if (t.Kind == TierKind.Remote)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Marks in <paramref name="present"/> the keys the remote cluster holds (one batched check per node, bounded by
    /// its lookup budget); a dead or stalled cluster leaves them absent.
    /// </summary>
    public async ValueTask ExistsRemoteAsync(ReadOnlyMemory<ChunkKey> keys, Memory<bool> present)
    {
        var found = new bool[keys.Length];
        foreach (var tier in _tenant.Store.Tiers)
        {
            if (tier.Kind != TierKind.Remote)
            {
                continue;
            }

            try
            {
                await tier.ExistsAsync(_layout, keys, found).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not ArgumentException)
            {
                continue;
            }

            var p = present.Span;
            for (int i = 0; i < found.Length; i++)
            {
                p[i] |= found[i];
            }
        }
    }

    /// <summary>Whether a tier below DRAM may hold values (a DRAM miss must look there).</summary>
    public bool HasLowerTiers => _tenant.Store.Tiers.Count > 1;

    /// <summary>
    /// Reads a value from the first tier below DRAM that holds it into <paramref name="record"/> (one record); returns
    /// the value's length, or -1 on a miss.
    /// </summary>
    public async ValueTask<int> ReadBelowAsync(ChunkKey key, Memory<byte> record)
    {
        var tiers = _tenant.Store.Tiers;
        for (int i = 1; i < tiers.Count; i++)
        {
            var tier = tiers[i];
            if (tier.HasLocalIndex && !tier.Contains(key))
            {
                continue;
            }

            TierReadStatus status;
            try
            {
                status = await tier.ReadAsync(_layout, key, record).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not ArgumentException && tier.Kind == TierKind.Remote)
            {
                // A remote cluster that fails is a miss, never a failed command.
                continue;
            }

            if (status == TierReadStatus.Hit)
            {
                return ValueRecord.ReadLength(record.Span);
            }
        }

        return -1;
    }

    /// <summary>
    /// Reserves a DRAM record for a value the caller fills in place. An overwrite (<paramref name="overwrite"/>)
    /// leaves the current value visible until <see cref="CommitAsync"/>; <see cref="Abort"/> (a cut-off SET) leaves
    /// it untouched.
    /// </summary>
    public TierWriteStatus Begin(in ChunkKey key, bool overwrite, out ChunkWriteReservation reservation) =>
        Dram.TryBeginWrite(key, _recordBytes, out reservation, replace: overwrite);

    /// <summary>Gives back a reservation that will not be committed.</summary>
    public void Abort(in ChunkWriteReservation reservation) => Dram.AbortWrite(reservation);

    /// <summary>Publishes a filled record (<see cref="TieredStore.CommitValueAsync"/>): overwrites are versioned, write-through copies queued before the reply.</summary>
    public ValueTask<TierWriteStatus> CommitAsync(ChunkWriteReservation reservation, ChunkKey? parent, bool overwrite) =>
        _tenant.Store.CommitValueAsync(_layout, reservation, parent, overwrite);

    /// <summary>Whether any tier with a local index holds <paramref name="key"/>.</summary>
    public bool Exists(in ChunkKey key)
    {
        var tiers = _tenant.Store.Tiers;
        for (int i = 0; i < tiers.Count; i++)
        {
            if (tiers[i].HasLocalIndex && tiers[i].Contains(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Deletes <paramref name="key"/> from every tier; completes once no copy is left on disk. True when any tier held it.</summary>
    public ValueTask<bool> DeleteAsync(ChunkKey key) => _tenant.Store.RemoveAsync(key);

    /// <summary>Distinct keys held (a value in DRAM and on the SSD counts once).</summary>
    public long Count()
    {
        if (Lower is null)
        {
            return Dram.ChunkCount;
        }

        long n = Lower.ChunkCount;
        foreach (var key in Dram.ResidentKeys())
        {
            if (!Lower.Contains(key))
            {
                n++;
            }
        }

        return n;
    }
}
