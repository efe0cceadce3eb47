using System.Collections.Concurrent;
using TierKv.Keys;
using TierKv.Tiers;
using static TierKv.Core.Tests.TestLayouts;

namespace TierKv.Core.Tests;

public class ConcurrencyStressTests
{
    [Theory]
    [InlineData("lru")]
    [InlineData("lru-prefix")]
    public async Task Concurrent_lookups_stores_retrieves_and_evictions_never_return_torn_data(string policy)
    {
        // Every key's payload is a pure function of the key, so the reference "dictionary" is the function itself:
        // a retrieve must give exactly those bytes or a miss.
        var dram = Dram(24, policy);
        using var store = NewStore(dram);
        var prefixes = Enumerable.Range(0, 40).Select(p => PrefixHasher.ComputeKeys(Tiny, TenantSalt.None, Tokens(4 * 6, seed: p * 1000))).ToArray();
        var errors = new ConcurrentQueue<string>();
        long retrieved = 0;
        int threads = Math.Max(4, Environment.ProcessorCount * 2);
        var tasks = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            var rnd = new Random(t);
            var dst = new byte[6 * Tiny.ChunkBytes];
            for (int op = 0; op < 4000; op++)
            {
                var keys = prefixes[rnd.Next(prefixes.Length)];
                switch (rnd.Next(4))
                {
                    case 0:
                        store.Store(Tiny, keys, PayloadForPrefix(keys));
                        break;
                    case 1:
                        int hitTokens = store.Lookup(Tiny, keys);
                        if (hitTokens % Tiny.TokensPerChunk != 0 || hitTokens > 24)
                        {
                            errors.Enqueue($"lookup returned {hitTokens}");
                        }

                        break;
                    case 2:
                        int got = store.Retrieve(Tiny, keys, dst);
                        for (int c = 0; c < got; c++)
                        {
                            if (!dst.AsSpan(c * Tiny.ChunkBytes, Tiny.ChunkBytes).SequenceEqual(PayloadFor(keys[c])))
                            {
                                errors.Enqueue($"torn or foreign bytes in chunk {c}");
                            }
                        }

                        Interlocked.Add(ref retrieved, got);
                        break;
                    default:
                        if (dram.TryAcquire(keys[rnd.Next(keys.Length)], out var lease))
                        {
                            using (lease)
                            {
                                var copy = lease.Span.ToArray();
                                Thread.Yield();
                                if (!lease.Span.SequenceEqual(copy))
                                {
                                    errors.Enqueue("a leased chunk changed under its reader");
                                }
                            }
                        }
                        else
                        {
                            dram.Remove(keys[rnd.Next(keys.Length)]);
                        }

                        break;
                }
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        Assert.Empty(errors);
        Assert.True(dram.ChunkCount <= 24);
        Assert.True(retrieved > 0);
        Assert.True(dram.UsedBytes == dram.ChunkCount * Tiny.ChunkBytes, $"used {dram.UsedBytes} for {dram.ChunkCount} chunks");
    }
}
