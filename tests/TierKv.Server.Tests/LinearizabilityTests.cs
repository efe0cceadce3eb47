using System.Collections.Concurrent;
using CsCheck;

namespace TierKv.Server.Tests;

/// <summary>
/// Overwrites, reads and deletes from many threads, with DRAM and SSD tiers so small that every value moves between them,
/// checked against a sequential model: the store's final state must be one that some order of the operations gives
/// (CsCheck's <c>SampleParallel</c>), and no read may return a value older than one already acknowledged.
/// <c>TIERKV_LINEARIZABILITY_ROUNDS</c> sets the rounds of 40 iterations (CI runs one; a nightly run a hundred).
/// </summary>
public sealed class LinearizabilityTests : IDisposable
{
    private const int IterationsPerRound = 40;

    /// <summary>Rounds of <see cref="IterationsPerRound"/> iterations (each round's stores are closed before the next).</summary>
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("TIERKV_LINEARIZABILITY_ROUNDS"), out int n) ? n : 1;
    private readonly string _root = Path.Combine("/var/tmp", "tierkv-linear-" + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentQueue<ValueStoreHarness> _stores = new();

    public void Dispose()
    {
        while (_stores.TryDequeue(out var s))
        {
            s.Dispose();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private ValueStoreHarness NewStore(bool writeThrough)
    {
        var s = new ValueStoreHarness(Path.Combine(_root, Guid.NewGuid().ToString("N")), dramRecords: 2, ssdRecords: 24, writeThrough);
        _stores.Enqueue(s);
        return s;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Parallel_overwrites_reads_and_deletes_end_in_a_state_some_sequential_order_gives(bool writeThrough)
    {
        const int keys = 4;
        var initial = Gen.Const(0).Select(_ => (NewStore(writeThrough), new Dictionary<int, int>()));
        var set = Gen.Select(Gen.Int[0, keys - 1], Gen.Int[1, 250]).Operation<ValueStoreHarness, Dictionary<int, int>>(
            t => $"SET {t.Item1} {t.Item2}", (s, t) => s.Set(t.Item1, t.Item2), (m, t) => m[t.Item1] = t.Item2);
        var get = Gen.Int[0, keys - 1].Operation<ValueStoreHarness, Dictionary<int, int>>(
            k => $"GET {k}", (s, k) => s.Get(k), (_, _) => { });
        var del = Gen.Int[0, keys - 1].Operation<ValueStoreHarness, Dictionary<int, int>>(
            k => $"DEL {k}", (s, k) => s.Delete(k), (m, k) => m.Remove(k));
        for (int round = 0; round < Rounds; round++)
        {
            Check.SampleParallel(
                initial,
                set,
                set,
                get,
                del,
                equal: (s, m) => Enumerable.Range(0, keys).All(k => s.Get(k) == (m.TryGetValue(k, out int v) ? v : null)),
                iter: IterationsPerRound,
                threads: 4,
                printActual: s => string.Join(", ", Enumerable.Range(0, keys).Select(k => $"{k}={s.Get(k)?.ToString() ?? "-"}")),
                printModel: m => string.Join(", ", Enumerable.Range(0, keys).Select(k => $"{k}={(m.TryGetValue(k, out int v) ? v.ToString() : "-")}")));
            while (_stores.TryDequeue(out var done))
            {
                done.Dispose();
            }
        }
    }

    [Fact]
    public async Task Reads_never_return_a_value_older_than_one_acknowledged_before_they_began()
    {
        // One writer per key (so acknowledged order is version order), readers on every key, values moving through a
        // 2-record DRAM tier into the SSD and back.
        using var s = new ValueStoreHarness(Path.Combine(_root, "floor"), dramRecords: 2, ssdRecords: 64);
        const int keys = 6;
        const int versions = 60;
        var acked = new int[keys];
        int writersLeft = keys;
        var writers = Enumerable.Range(0, keys).Select(k => Task.Run(async () =>
        {
            for (int v = 1; v <= versions; v++)
            {
                await s.SetAsync(k, v);
                Volatile.Write(ref acked[k], v);
            }

            Interlocked.Decrement(ref writersLeft);
        })).ToArray();
        long reads = 0;
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(async () =>
        {
            int k = r;
            while (Volatile.Read(ref writersLeft) > 0)
            {
                k = (k + 1) % keys;
                int floor = Volatile.Read(ref acked[k]);
                int? got = await s.GetAsync(k);
                Assert.False(got is null && floor > 0, $"key {k}: a miss after version {floor} was acknowledged (nothing was evicted for want of space)");
                Assert.True(got is null || got >= floor, $"key {k}: read version {got} after version {floor} was acknowledged");
                Interlocked.Increment(ref reads);
                await Task.Yield();
            }
        })).ToArray();
        await Task.WhenAll(writers);
        await Task.WhenAll(readers);
        Assert.True(reads > 0);
        for (int k = 0; k < keys; k++)
        {
            Assert.Equal(versions, s.Get(k));
        }
    }
}
