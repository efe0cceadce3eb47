namespace TierKv.Server.Tenants;

/// <summary>
/// At shutdown, writes every DRAM-resident value the SSD tier lacks down to it and waits for the background writes,
/// so a restarted server serves everything this one acknowledged.
/// </summary>
internal static class ServerStoreShutdown
{
    public static async Task FlushAsync(TenantDirectory tenants)
    {
        foreach (var t in tenants.All)
        {
            if (t.Store.Tiers.Count > 1)
            {
                await t.Store.PersistAsync().ConfigureAwait(false);
            }

            if (t.Small is { HasLowerTiers: true } small)
            {
                await small.Store.PersistAsync().ConfigureAwait(false);
            }
        }
    }
}
