using TierKv.Remote;
using TierKv.Tiers;

namespace TierKv.Cli.Commands.Probe;

/// <summary>
/// The remote tier named by <c>--remote</c>, measured through <see cref="RedisTier"/> itself (chunk format, verified
/// reads, per-node resilience): chunk-sized writes and reads with a few in flight, and the latency of a one-key
/// existence check (what a lookup pays per round trip). Every key it wrote is removed afterwards, and carries an
/// expiry in case the probe is killed first. An unreachable cluster is reported, not thrown.
/// </summary>
internal sealed class RemoteProbeMedium : IProbeMedium
{
    private const int Concurrency = 4;

    public string Name => "remote";

    public ProbeMeasurement? Measure(ProbeContext context)
    {
        if (string.IsNullOrWhiteSpace(context.RemoteEndpoints))
        {
            return null;
        }

        try
        {
            return MeasureAsync(context, context.RemoteEndpoints).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is not ArgumentException and not OutOfMemoryException)
        {
            // The client's connection and timeout errors: the probe still prints the other media.
            return ProbeMeasurement.Absent(Name, $"remote tier: cannot reach {context.RemoteEndpoints} ({ex.GetType().Name}: {ex.Message})");
        }
    }

    private async Task<ProbeMeasurement> MeasureAsync(ProbeContext context, string endpoints)
    {
        var layout = context.Layout;
        int cb = layout.ChunkBytes;
        int n = context.Quick ? 4 : 16;
        int reps = context.Quick ? 2 : 3;
        var options = RemoteTierOptions.FromEndpoints(endpoints) with
        {
            Name = Name,
            KeyPrefix = $"tierkv-probe-{Environment.ProcessId}",
            Expiry = TimeSpan.FromMinutes(10),
        };
        await using var tier = await RedisTier.ConnectAsync(options, log: context.Log).ConfigureAwait(false);
        if (!tier.IsConnected)
        {
            return ProbeMeasurement.Absent(Name, $"remote tier: cannot reach {endpoints} (no node answered within {options.ConnectTimeout.TotalSeconds:F0} s)");
        }

        // Keys of a prefix unique to this process, so concurrent probes never meet on the cluster.
        var tokens = new int[n * layout.TokensPerChunk];
        int seed = Environment.ProcessId ^ (int)Stopwatch.GetTimestamp();
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = (i * 7919) + seed;
        }

        var keys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);

        // One payload for all writes (each key stores its own copy), one destination per reader in flight.
        var payload = GC.AllocateUninitializedArray<byte>(cb, pinned: true);
        new Random(42).NextBytes(payload);
        var buffers = new byte[Concurrency][];
        for (int i = 0; i < Concurrency; i++)
        {
            buffers[i] = GC.AllocateUninitializedArray<byte>(cb, pinned: true);
        }

        context.Log?.Invoke($"remote: {n} chunks of {cb >> 20} MiB ({layout.ModelId}) to {endpoints}, {Concurrency} in flight");
        var write = new List<double>();
        var read = new List<double>();
        var lat = new List<double>();
        try
        {
            for (int r = 0; r <= reps; r++)
            {
                // SET NX keeps the first value: clear the keys so every pass really writes.
                await RemoveAll(tier, keys).ConfigureAwait(false);
                double w = await Pass(n, (i, _) => WriteOne(tier, layout, keys[i], payload)).ConfigureAwait(false);
                double rd = await Pass(n, (i, worker) => ReadOne(tier, layout, keys[i], buffers[worker])).ConfigureAwait(false);
                if (r > 0)
                {
                    write.Add((double)n * cb / w / 1e9);
                    read.Add((double)n * cb / rd / 1e9);
                }
            }

            var one = new ChunkKey[1];
            var present = new bool[1];
            int samples = context.Quick ? 200 : 1000;
            for (int i = 0; i < samples + 10; i++)
            {
                one[0] = keys[i % n];
                long t0 = Stopwatch.GetTimestamp();
                await tier.ExistsAsync(layout, one, present).ConfigureAwait(false);
                double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                if (!present[0])
                {
                    throw new IOException($"an existence check for a chunk just written to {endpoints} answered absent");
                }

                if (i >= 10)
                {
                    lat.Add(us);
                }
            }
        }
        catch (IOException ex)
        {
            return ProbeMeasurement.Absent(Name, $"remote tier: not measured at {endpoints} ({ex.Message})");
        }
        finally
        {
            await RemoveAll(tier, keys).ConfigureAwait(false);
        }

        return new ProbeMeasurement(
            Name,
            Stats.Median(read),
            Stats.Median(write),
            Stats.Median(lat),
            $"RedisTier at {endpoints}: {n} x {cb >> 20} MiB chunks, {Concurrency} in flight, reads verified; latency of a one-key existence check");
    }

    private static async Task WriteOne(RedisTier tier, KvLayout layout, ChunkKey key, byte[] payload)
    {
        var status = await tier.WriteAsync(layout, key, null, payload).ConfigureAwait(false);
        if (status != TierWriteStatus.Stored)
        {
            throw new IOException($"a chunk write answered {status}");
        }
    }

    private static async Task ReadOne(RedisTier tier, KvLayout layout, ChunkKey key, byte[] buffer)
    {
        var status = await tier.ReadAsync(layout, key, buffer).ConfigureAwait(false);
        if (status != TierReadStatus.Hit)
        {
            throw new IOException($"reading back a chunk just written answered {status}");
        }
    }

    /// <summary>Runs <paramref name="op"/> for items 0..n-1 with <see cref="Concurrency"/> workers; returns seconds.</summary>
    private static async Task<double> Pass(int n, Func<int, int, Task> op)
    {
        int next = -1;
        long t0 = Stopwatch.GetTimestamp();
        var workers = new Task[Concurrency];
        for (int w = 0; w < workers.Length; w++)
        {
            int worker = w;
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < n)
                {
                    await op(i, worker).ConfigureAwait(false);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static async Task RemoveAll(RedisTier tier, ChunkKey[] keys)
    {
        foreach (var key in keys)
        {
            await tier.RemoveAsync(key).ConfigureAwait(false);
        }
    }
}
