using System.Collections.Concurrent;

namespace TierKv.Server.Tenants;

/// <summary>
/// The storage API between the protocol and a tenant's tiers: get, begin/commit/abort a put, exists, delete, count,
/// time to live and the names SCAN lists. Values sit in fixed-size records (<see cref="ValueRecord"/>) of two size
/// classes (<see cref="ValueClass"/>): a value whose record fits the small class goes there, anything else takes a
/// chunk record. <c>SET</c> overwrites: each committed value carries a version from the store's clock, so the newest
/// value wins in DRAM, in the copy below, across evictions, restarts and crashes (docs/core.md, "Versions");
/// <c>KV.PUT</c> is content-addressed (the first copy wins).
/// </summary>
internal sealed partial class TenantStore
{
    private readonly ValueClass _chunks;
    private readonly ValueClass? _small;

    /// <summary>Expiry (Unix ms) of the keys that have a time to live; the records carry it too, for restarts.</summary>
    private readonly ConcurrentDictionary<ChunkKey, long> _expiry = new();

    public TenantStore(ValueClass chunks, ValueClass? small, long maxPinnedBytes)
    {
        _chunks = chunks;
        _small = small;
        MaxPinnedBytes = maxPinnedBytes;
        LoadExpiries(chunks);
        if (small is not null)
        {
            LoadExpiries(small);
        }
    }

    /// <summary>Bytes of one chunk record (the largest record; read buffers have this size).</summary>
    public int RecordBytes => _chunks.RecordBytes;

    /// <summary>Largest record of the small-value class (0 when there is none).</summary>
    public int SmallRecordBytes => _small?.RecordBytes ?? 0;

    /// <summary>Whether a tier below DRAM may hold values (a DRAM miss must look there).</summary>
    public bool HasLowerTiers => _chunks.HasLowerTiers;

    /// <summary>Keys with a time to live.</summary>
    public int ExpiringKeys => _expiry.Count;

    /// <summary>Reads that found a value expired (the record stays until replaced, deleted or evicted).</summary>
    public long ExpiredKeys => Interlocked.Read(ref _expired);

    private long _expired;

    /// <summary>The NX and XX tests, made once (a commit asks them under the key's lock).</summary>
    private Func<ChunkKey, bool>? _absent;
    private Func<ChunkKey, bool>? _present;

    /// <summary>Size of the expiry map at which the next sweep of evicted keys runs.</summary>
    private int _sweepAt = 1024;

    /// <summary>One sweep at a time.</summary>
    private readonly Lock _sweepLock = new();

    public static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>Pins the DRAM copy of <paramref name="key"/> and locates its value; false when DRAM lacks it (or it expired).</summary>
    public bool TryGetInDram(in ChunkKey key, out ChunkLease lease, out RecordInfo info)
    {
        info = default;
        if (!_chunks.Dram.TryAcquire(key, out lease) && (_small is null || !_small.Dram.TryAcquire(key, out lease)))
        {
            return false;
        }

        if (!ValueRecord.TryRead(lease.Span, out info) || (info.ExpiresAtMs != 0 && info.ExpiredAt(NowMs)))
        {
            bool expired = info.ExpiresAtMs != 0;
            lease.Dispose();
            if (expired)
            {
                CountExpired();
            }

            return false;
        }

        return true;
    }

    /// <summary>
    /// Reads a value from the first tier below DRAM that holds it into <paramref name="record"/> (one chunk record);
    /// returns where the value lies, or a length of -1 on a miss.
    /// </summary>
    public async ValueTask<RecordInfo> ReadBelowAsync(ChunkKey key, Memory<byte> record)
    {
        var info = await ReadBelowAsync(_chunks, key, record).ConfigureAwait(false);
        if (info.ValueLength < 0 && _small is not null)
        {
            info = await ReadBelowAsync(_small, key, record[.._small.RecordBytes]).ConfigureAwait(false);
        }

        return info;
    }

    private async ValueTask<RecordInfo> ReadBelowAsync(ValueClass cls, ChunkKey key, Memory<byte> record)
    {
        var tiers = cls.Store.Tiers;
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
                status = await tier.ReadAsync(cls.Layout, key, record[..cls.RecordBytes]).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not ArgumentException && tier.Kind == TierKind.Remote)
            {
                // A remote cluster that fails is a miss, never a failed command.
                continue;
            }

            if (status == TierReadStatus.Hit)
            {
                if (!ValueRecord.TryRead(record.Span, out var info))
                {
                    break;
                }

                if (info.ExpiredAt(NowMs))
                {
                    CountExpired();
                    break;
                }

                return info;
            }
        }

        return new RecordInfo(0, -1, 0, 0, 0);
    }

    /// <summary>
    /// Reserves a DRAM record of the class that fits <paramref name="recordBytesNeeded"/> for a value the caller fills
    /// in place. An overwrite (<paramref name="overwrite"/>) leaves the current value visible until
    /// <see cref="CommitAsync"/>; <see cref="Abort"/> (a cut-off SET) leaves it untouched.
    /// </summary>
    public TierWriteStatus Begin(in ChunkKey key, int recordBytesNeeded, bool overwrite, out ValueWrite write)
    {
        var cls = _small is not null && recordBytesNeeded <= _small.RecordBytes ? _small : _chunks;
        if (!overwrite && Exists(key))
        {
            write = default;
            return TierWriteStatus.AlreadyPresent;
        }

        var status = cls.Dram.TryBeginWrite(key, cls.RecordBytes, out var reservation, replace: overwrite);
        write = new ValueWrite(reservation, cls);
        return status;
    }

    /// <summary>Gives back a reservation that will not be committed.</summary>
    public void Abort(in ValueWrite write) => write.Class?.Dram.AbortWrite(write.Reservation);

    /// <summary>
    /// Publishes a filled record (<c>TieredStore.CommitValueAsync</c>): overwrites are versioned, write-through
    /// copies queued before the reply. A copy of the key in the other size class is removed after the commit.
    /// <paramref name="condition"/> (SET NX/XX) is checked under the key's lock in the record's size class, so it is
    /// atomic against concurrent writes of values of that class; a concurrent write of the key in the other class
    /// (a value of a very different size) is checked only before the record was reserved.
    /// </summary>
    public async ValueTask<TierWriteStatus> CommitAsync(ValueWrite write, ChunkKey? parent, bool overwrite, long expiresAtMs, SetCondition condition = SetCondition.Always)
    {
        var cls = write.Class!;
        var key = write.Reservation.Key;
        var test = condition switch
        {
            SetCondition.IfAbsent => _absent ??= k => !Exists(k),
            SetCondition.IfPresent => _present ??= k => Exists(k),
            _ => null,
        };
        var status = await cls.Store.CommitValueAsync(cls.Layout, write.Reservation, parent, overwrite, test).ConfigureAwait(false);
        if (status == TierWriteStatus.Stored)
        {
            if (expiresAtMs != 0)
            {
                _expiry[key] = expiresAtMs;
                SweepExpiries();
            }
            else if (!_expiry.IsEmpty)
            {
                _expiry.TryRemove(key, out _);
            }

            var other = ReferenceEquals(cls, _chunks) ? _small : _chunks;
            if (overwrite && other is not null && other.Contains(key))
            {
                await other.Store.RemoveAsync(key).ConfigureAwait(false);
            }
        }

        return status;
    }

    /// <summary>Whether a remote cluster sits under the local tiers (<see cref="ServerOptions.Remote"/>).</summary>
    public bool HasRemote => _chunks.Remote is not null;

    /// <summary>
    /// Marks in <paramref name="present"/> the keys the remote cluster holds in either size class (one batched check
    /// per cluster node, bounded by its lookup budget); a dead or stalled cluster leaves them absent. The cluster's
    /// copy of a value whose time to live is over may still answer present; a GET of it is a miss.
    /// </summary>
    public async ValueTask ExistsRemoteAsync(ReadOnlyMemory<ChunkKey> keys, Memory<bool> present)
    {
        var found = new bool[keys.Length];
        foreach (var cls in _small is null ? [_chunks] : new[] { _chunks, _small })
        {
            if (cls.Remote is not { } remote)
            {
                continue;
            }

            try
            {
                await remote.ExistsAsync(cls.Layout, keys, found).ConfigureAwait(false);
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

    /// <summary>Whether any tier holds <paramref name="key"/> with its time to live not yet over.</summary>
    public bool Exists(in ChunkKey key)
    {
        if (!_chunks.Contains(key) && (_small is null || !_small.Contains(key)))
        {
            return false;
        }

        if (!_expiry.IsEmpty && _expiry.TryGetValue(key, out long at) && at <= NowMs)
        {
            CountExpired();
            return false;
        }

        return true;
    }

    /// <summary>The key's expiry in Unix ms: 0 when it has none, -1 when it does not exist.</summary>
    public long ExpiryOf(in ChunkKey key)
    {
        if (!Exists(key))
        {
            return -1;
        }

        return _expiry.TryGetValue(key, out long at) ? at : 0;
    }

    /// <summary>Deletes <paramref name="key"/> from every tier; completes once no copy is left on disk. True when any tier held it.</summary>
    public async ValueTask<bool> DeleteAsync(ChunkKey key)
    {
        bool live = Exists(key);
        bool removed = await _chunks.Store.RemoveAsync(key).ConfigureAwait(false);
        if (_small is not null && await _small.Store.RemoveAsync(key).ConfigureAwait(false))
        {
            removed = true;
        }

        _expiry.TryRemove(key, out _);
        return removed && live;
    }

    /// <summary>
    /// Leading keys held (KV.LOOKUP): the chunk store's lookup (no I/O), continued through the small-value class for
    /// keys whose values are small.
    /// </summary>
    public int LookupChunks(KvLayout layout, ReadOnlySpan<ChunkKey> keys)
    {
        int held = _chunks.Store.Lookup(layout, keys) / layout.TokensPerChunk;
        if (_small is null)
        {
            return held;
        }

        while (held < keys.Length && (_small.Contains(keys[held]) || _chunks.Contains(keys[held])))
        {
            held++;
        }

        return held;
    }

    /// <summary>The small-value class's DRAM tier, when there is one (for KV.STATS).</summary>
    public HostMemoryTier? SmallDram => _small?.Dram;

    /// <summary>Distinct keys held (a value in DRAM and on the SSD counts once).</summary>
    public long Count() => _chunks.Count() + (_small?.Count() ?? 0);

    /// <summary>
    /// Counts a value found expired. Its record stays until a SET replaces it, a DEL removes it or eviction reclaims it:
    /// removing it here could race with a SET of the same key that lands first and delete the new value. Every read
    /// path treats it as absent (the expiry map, and the record's own header after a restart).
    /// </summary>
    private void CountExpired() => Interlocked.Increment(ref _expired);

    /// <summary>Drops expiry entries of keys that no tier holds any more (evicted), once the map outgrows the keys held.</summary>
    private void SweepExpiries()
    {
        // Amortized: a sweep runs when the map has doubled since the last one left it.
        if (_expiry.Count < Volatile.Read(ref _sweepAt) || !_sweepLock.TryEnter())
        {
            return;
        }

        try
        {
            foreach (var entry in _expiry)
            {
                if (!_chunks.Contains(entry.Key) && (_small is null || !_small.Contains(entry.Key)))
                {
                    _expiry.TryRemove(entry);
                }
            }

            Volatile.Write(ref _sweepAt, Math.Max(1024, 2 * _expiry.Count));
        }
        finally
        {
            _sweepLock.Exit();
        }
    }
}

/// <summary>A DRAM reservation and the size class it belongs to.</summary>
internal readonly record struct ValueWrite(ChunkWriteReservation Reservation, ValueClass? Class);
