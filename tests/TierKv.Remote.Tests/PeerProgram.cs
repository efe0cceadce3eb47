using TierKv.Keys;
using TierKv.Store;
using TierKv.Tiers;

namespace TierKv.Remote.Tests;

/// <summary>
/// The second process of the cross-process test: <c>dotnet TierKv.Remote.Tests.dll peer store|fetch ENDPOINTS PREFIX
/// SALT CHUNKS</c>. Each run has its own DRAM tier and shares only the cluster with the test.
/// </summary>
public static class PeerProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 6 || args[0] != "peer")
        {
            await Console.Error.WriteLineAsync("usage: peer store|fetch ENDPOINTS PREFIX SALT CHUNKS");
            return 2;
        }

        var layout = TestData.Layout;
        var salt = TenantSalt.FromString(args[4]);
        int chunks = int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture);
        var tokens = TestData.Tokens(chunks);
        var keys = PrefixHasher.ComputeKeys(layout, salt, tokens);
        // This test is about sharing, not budgets: a fresh process's first lookup (JIT, first round trips) on a busy
        // machine can outlast the tight test budget, and what it missed would read as "not shared".
        var options = TestData.Options(RemoteTierOptions.FromEndpoints(args[2]).Endpoints, args[3]) with
        {
            LookupTimeout = TimeSpan.FromSeconds(2),
            LookupBudget = TimeSpan.FromSeconds(5),
        };
        var remote = await RedisTier.ConnectAsync(options);
        var dram = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = (long)layout.ChunkBytes * chunks, SlotBytes = layout.ChunkBytes });
        using var store = new TieredStore([dram, remote]);
        if (args[1] == "store")
        {
            var payload = TestData.Payload(chunks);
            int held = await store.StoreAsync(layout, keys, payload);

            // The tiered store keeps new chunks in DRAM; sharing them is writing them through to the cluster.
            int shared = 0;
            for (int i = 0; i < chunks; i++)
            {
                var s = await remote.WriteAsync(layout, keys[i], i > 0 ? keys[i - 1] : null, payload.AsMemory(i * layout.ChunkBytes, layout.ChunkBytes));
                shared += s is TierWriteStatus.Stored or TierWriteStatus.AlreadyPresent ? 1 : 0;
            }

            Console.WriteLine($"stored {held} {shared}");
            return 0;
        }

        int hitTokens = await store.LookupAsync(layout, keys);
        var buffer = new byte[chunks * layout.ChunkBytes];
        var servedBy = new TierKind[chunks];
        int got = await store.RetrieveAsync(layout, keys, buffer, servedBy);
        int fromRemote = servedBy.AsSpan(0, got).Count(TierKind.Remote);
        Console.WriteLine($"fetched {hitTokens} {got} {fromRemote} {TestData.Hash(buffer.AsSpan(0, got * layout.ChunkBytes))}");
        return 0;
    }
}
