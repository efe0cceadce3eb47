namespace TierKv.Benchmarks;

/// <summary>
/// <c>--check</c>: runs every benchmark body once outside BenchmarkDotNet and verifies its result (keys match the
/// chain, chunks verify, writes store, lookups hit), so a benchmark can never quietly time a miss or a no-op.
/// Seconds, no harness; exit code 0 when all pass.
/// </summary>
internal static class SmokeCheck
{
    public static int Run(TextWriter log)
    {
        var checks = new (string Name, Action Run)[]
        {
            ("KeyHashing 4096 tokens", () => new KeyHashingBenchmarks { Tokens = 4096 }.Check()),
            ("KeyHashing 16384 tokens", () => new KeyHashingBenchmarks { Tokens = 16384 }.Check()),
            ("KeyHashing 131072 tokens", () => new KeyHashingBenchmarks { Tokens = 131072 }.Check()),
            ("ChunkCodec", () => new ChunkCodecBenchmarks().Check()),
            ("HostMemoryTier 64 KiB", () => new HostMemoryTierBenchmarks { ChunkBytes = 64 * 1024 }.Check(log)),
            ("HostMemoryTier 2 MiB", () => new HostMemoryTierBenchmarks { ChunkBytes = 2 * 1024 * 1024 }.Check(log)),
            ("SlotIndex remove + add", IndexCost),
            ("Lookup", () => new LookupBenchmarks().Check()),
            ("EvictionPolicy", () => new EvictionPolicyBenchmarks().Check(log)),
        };
        int failed = 0;
        foreach (var (name, run) in checks)
        {
            try
            {
                run();
                log.WriteLine($"ok   {name}");
            }
            catch (Exception e)
            {
                failed++;
                log.WriteLine($"FAIL {name}: {e.Message}");
            }
        }

        log.WriteLine($"{checks.Length - failed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>One remove + add of the tiers' index (<see cref="Tiers.Slots.SlotIndex"/>) allocates nothing.</summary>
    private static void IndexCost()
    {
        var keys = new Keys.ChunkKey[64];
        var index = new Tiers.Slots.SlotIndex(keys);
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = new Keys.ChunkKey((UInt128)(ulong)(i + 1) * 0x9E3779B97F4A7C15UL);
            index.Add(keys[i], i);
        }

        int next = 0;
        Allocations.RequireNone(() =>
        {
            int s = next;
            next = (next + 1) % keys.Length;
            index.RemoveSlot(s);
            index.Add(keys[s], s);
            return s;
        }, "SlotIndex remove + add");
    }
}
