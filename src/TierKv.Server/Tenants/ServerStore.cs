using TierKv.Keys;
using TierKv.Server.Protocol;
using TierKv.Tiers;

namespace TierKv.Server.Tenants;

/// <summary>Store operations on a tenant's tiers below DRAM (the SSD tier), where values have their own sizes.</summary>
internal static class ServerStore
{
    /// <summary>Whether any tier with a local index holds <paramref name="key"/>.</summary>
    public static bool Contains(Tenant tenant, in ChunkKey key)
    {
        var tiers = tenant.Store.Tiers;
        for (int i = 0; i < tiers.Count; i++)
        {
            if (tiers[i].HasLocalIndex && tiers[i].Contains(key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Reads a value from the first slower tier holding it; returns its length, or -1 on a miss. Values sit in fixed-size
    /// records (<see cref="ValueRecord"/>), so a hit fills one record and its prefix gives the value's length.
    /// </summary>
    public static async ValueTask<int> ReadSlowAsync(Tenant tenant, KvLayout layout, ChunkKey key, Memory<byte> destination)
    {
        var tiers = tenant.Store.Tiers;
        for (int i = 1; i < tiers.Count; i++)
        {
            var tier = tiers[i];
            if (tier.HasLocalIndex && !tier.Contains(key))
            {
                continue;
            }

            if (await tier.ReadAsync(layout, key, destination).ConfigureAwait(false) == TierReadStatus.Hit)
            {
                return ValueRecord.ReadLength(destination.Span);
            }
        }

        return -1;
    }
}
