using System.Diagnostics;
using System.Security.Cryptography;
using TierKv.Engine.Connector;
using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Engine.Planning;

/// <summary>
/// Measures a tier's read bandwidth before traffic arrives: writes a few scratch chunks under random keys, reads
/// them back concurrently, removes them, and reports the reading to the planner. Without it the planner learns a
/// tier from a one-chunk probe on its first hit.
/// </summary>
public static class TierCalibration
{
    /// <summary>Measures <paramref name="tier"/> with <paramref name="chunks"/> chunks of <paramref name="layout"/>; null if the tier would not take them.</summary>
    public static async Task<TierReading?> MeasureAsync(IKvTier tier, KvLayout layout, LoadPlanner planner, int chunks = 4, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tier);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(planner);
        int cb = layout.ChunkBytes;
        var keys = new ChunkKey[chunks];
        var payload = new byte[cb];
        RandomNumberGenerator.Fill(payload);
        try
        {
            for (int i = 0; i < chunks; i++)
            {
                keys[i] = ChunkKey.Read(RandomNumberGenerator.GetBytes(16));
                if (await tier.WriteAsync(layout, keys[i], null, payload, cancellationToken).ConfigureAwait(false) != TierWriteStatus.Stored)
                {
                    return null;
                }
            }

            var buffers = new byte[chunks][];
            var reads = new Task<TierReadStatus>[chunks];
            for (int i = 0; i < chunks; i++)
            {
                buffers[i] = new byte[cb];
                buffers[i].AsSpan().Fill(1);
            }

            // One untimed read warms the code path, so the figure is the medium's, not the JIT's.
            await tier.ReadAsync(layout, keys[0], buffers[0], cancellationToken).ConfigureAwait(false);
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < chunks; i++)
            {
                reads[i] = tier.ReadAsync(layout, keys[i], buffers[i], cancellationToken).AsTask();
            }

            foreach (var status in await Task.WhenAll(reads).ConfigureAwait(false))
            {
                if (status != TierReadStatus.Hit)
                {
                    return null;
                }
            }

            var reading = new TierReading(tier.Name, (long)chunks * cb, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            planner.ObserveTier(reading.Tier, reading.Bytes, reading.Seconds);
            return reading;
        }
        finally
        {
            foreach (var k in keys)
            {
                await tier.RemoveAsync(k, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
