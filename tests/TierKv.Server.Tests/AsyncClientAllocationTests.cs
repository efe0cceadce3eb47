using System.Runtime.CompilerServices;
using TierKv.Keys;
using TierKv.Server.Client;
using TierKv.Tests;
using Xunit.Abstractions;

namespace TierKv.Server.Tests;

/// <summary>Runs in the allocation tests' collection (alone): the allocation counter is process-wide.</summary>
[Collection(nameof(AllocationTests))]
public class AsyncClientAllocationTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Async_lookups_gets_and_puts_allocate_nothing_per_call()
    {
        Skip.IfNot(OptimizedBuild.Of(typeof(RespServer)), OptimizedBuild.SkipReason);
        await using var s = TestServer.Start(new ServerOptions { DramBytes = 128L << 20 });
        await using var c = await TierKvAsyncClient.ConnectAsync("127.0.0.1", s.Port);
        var w = new AllocationWorkload();
        var (keys, _, large, dest) = (w.Keys, w.Small, w.Large, w.Destination);
        for (int i = 0; i < keys.Length; i++)
        {
            await c.PutAsync(keys[i], w.ValueOf(i));
        }

        // The measured lambdas use pooled state machines, so only the client and the server count; they share this
        // process, so the figures cover both ends of each request (the server's own share is bounded by AllocationTests).
        long lookup = await BytesPerCallAsync([AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] async ValueTask () => await c.LookupAsync(keys));
        output.WriteLine($"bytes per call: lookup {lookup}");
        Assert.True(lookup < 64, $"async KV.LOOKUP of 64 keys allocates {lookup} bytes per call");
        long getSmall = await BytesPerCallAsync([AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] async ValueTask () => await c.GetChunkAsync(keys[1], dest));
        Assert.True(getSmall < 64, $"async GET of a 4 KiB value allocates {getSmall} bytes per call");
        long getLarge = await BytesPerCallAsync([AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] async ValueTask () => await c.GetChunkAsync(keys[0], dest));
        Assert.True(getLarge < 512, $"async GET of a 600 KB value allocates {getLarge} bytes per call");
        long put = await BytesPerCallAsync([AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] async ValueTask () =>
        {
            await c.DeleteAsync(keys.AsMemory(0, 1));
            await c.PutAsync(keys[0], large);
        });
        output.WriteLine($"bytes per call: lookup {lookup}, get 4 KiB {getSmall}, get 600 KB {getLarge}, del+put 600 KB {put}");
        Assert.True(put < 1024, $"async DEL + PUT of a 600 KB value allocates {put} bytes per call");
    }

    /// <summary>Least bytes per call over several windows (other fixtures winding down can only add to a window).</summary>
    private static async Task<long> BytesPerCallAsync(Func<ValueTask> op)
    {
        for (int i = 0; i < 200; i++)
        {
            await op();
        }

        const int n = 300;
        long best = long.MaxValue;
        for (int w = 0; w < 5; w++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < n; i++)
            {
                await op();
            }

            best = Math.Min(best, (GC.GetTotalAllocatedBytes(precise: true) - before) / n);
        }

        return best;
    }
}
