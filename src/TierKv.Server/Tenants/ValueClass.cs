using TierKv.Metrics;
using TierKv.Nvme;
using TierKv.Store;

namespace TierKv.Server.Tenants;

/// <summary>
/// One size class of value records: a DRAM pool of fixed-size records and, when configured, an SSD folder of the same
/// record size, composed as a <see cref="TieredStore"/>. A tenant has a class for chunks (records of one chunk) and a
/// small-value class (4 KiB records), so a 28-byte metadata value costs 4 KiB, not a chunk-sized slot.
/// </summary>
internal sealed class ValueClass : IDisposable
{
    public ValueClass(TieredStore store, HostMemoryTier dram, int recordBytes)
    {
        Store = store;
        Dram = dram;
        RecordBytes = recordBytes;
        Layout = ValueRecord.Layout(recordBytes);
        Lower = store.Tiers.Count > 1 ? store.Tiers[1] as IWriteBehindTier : null;
        Ssd = store.Tiers.Count > 1 ? store.Tiers[1] as NvmeTier : null;
        DramCounters = store.Metrics.ForTier(dram.Name);
        foreach (var t in store.Tiers)
        {
            if (t.Kind == TierKind.Remote)
            {
                Remote = t;
            }
        }
    }

    /// <summary>The remote cluster tier under DRAM and SSD, when configured.</summary>
    public IKvTier? Remote { get; }

    public TieredStore Store { get; }

    public HostMemoryTier Dram { get; }

    public int RecordBytes { get; }

    /// <summary>The layout whose chunk is one record of this class.</summary>
    public KvLayout Layout { get; }

    public IWriteBehindTier? Lower { get; }

    /// <summary>The SSD tier, when it is one (its files are read directly to list names after a restart).</summary>
    public NvmeTier? Ssd { get; }

    public TierCounters DramCounters { get; }

    public bool HasLowerTiers => Store.Tiers.Count > 1;

    /// <summary>Whether any tier with a local index holds <paramref name="key"/>.</summary>
    public bool Contains(in ChunkKey key)
    {
        var tiers = Store.Tiers;
        for (int i = 0; i < tiers.Count; i++)
        {
            if (tiers[i].HasLocalIndex && tiers[i].Contains(key))
            {
                return true;
            }
        }

        return false;
    }

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

    /// <summary>Every key held in any tier (for SCAN), duplicates included.</summary>
    public void CollectKeys(List<ChunkKey> into)
    {
        into.AddRange(Dram.ResidentKeys());
        if (Ssd is { } ssd)
        {
            into.AddRange(ssd.ResidentKeys());
        }
    }

    public void Dispose() => Store.Dispose();
}
