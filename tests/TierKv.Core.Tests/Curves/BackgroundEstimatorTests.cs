using CsCheck;
using TierKv.Curves;
using TierKv.Keys;
using TierKv.Tiers;

namespace TierKv.Core.Tests.Curves;

/// <summary>
/// <see cref="MissRatioCurveEstimator"/> with its simulation on a background thread
/// (<see cref="MissRatioCurveOptions.Background"/>) against the same estimator inline: the same curves at every point a
/// reader looks, nothing lost when the ring is full, and the thread stopped with the tier.
/// </summary>
public sealed class BackgroundEstimatorTests
{
    // A request: a family (its depth-1 chunk), how many chunks of its chain it reads, and whether it starts at a root
    // shared by every family (a system prompt) or at its own.
    private static readonly Gen<(int Family, int Length, bool SharedRoot)[]> Streams =
        Gen.Select(Gen.Int[0, 60], Gen.Int[1, 6], Gen.Bool).Array[1, 400];

    private static readonly Gen<MissRatioCurveOptions> Settings = Gen.Select(Gen.Int[4, 12], Gen.Bool, Gen.Int[4, 9], Gen.Int[0, 3]).Select((trackedLog, policies, ringLog, seed) =>
        new MissRatioCurveOptions
        {
            MaxTrackedKeys = 1 << trackedLog,
            Policies = policies ? ["s3fifo", "leader"] : [],
            PolicySampleRate = 1.0 / 4,
            RingEntries = 1 << ringLog,
            Seed = (ulong)seed,
        });

    [Fact]
    public void Background_and_inline_estimators_give_identical_curves_at_every_snapshot()
    {
        Gen.Select(Settings, Streams, Gen.Int[1, 300]).Sample((options, stream, snapshotEvery) =>
        {
            using var background = new MissRatioCurveEstimator(options, 40, "lru");
            using var inline = new MissRatioCurveEstimator(options with { Background = false }, 40, "lru");
            Assert.True(background.Background);
            Assert.False(inline.Background);
            int accesses = 0;
            foreach (var (key, parent) in Accesses(stream))
            {
                background.Observe(key, parent);
                inline.Observe(key, parent);
                if (++accesses % snapshotEvery == 0)
                {
                    Assert.Equal(inline.Snapshot(), background.Snapshot());
                }
            }

            Assert.Equal(inline.ObservedAccesses, background.ObservedAccesses);
            Assert.Equal(inline.Snapshot(), background.Snapshot());
            background.Flush();
            inline.Flush();
            Assert.Equal(inline.SampledAccesses, background.SampledAccesses);
            Assert.Equal(inline.Snapshot(), background.Snapshot());
        }, iter: 60);
    }

    [Fact]
    public void A_snapshot_sees_every_access_observed_before_it_even_while_the_worker_sleeps()
    {
        // 500 accesses are fewer than the quarter of a 4096-entry ring that wakes the worker: only the snapshot's own
        // catching up can have simulated them.
        var options = new MissRatioCurveOptions { RingEntries = 4096 };
        using var background = new MissRatioCurveEstimator(options, 64, "lru");
        using var inline = new MissRatioCurveEstimator(options with { Background = false }, 64, "lru");
        var stream = Accesses(Fixed(300, seed: 1)).Take(500).ToArray();
        foreach (var (key, parent) in stream)
        {
            background.Observe(key, parent);
            inline.Observe(key, parent);
        }

        Assert.Equal(500, background.ObservedAccesses);
        var points = background.Snapshot();
        Assert.Equal(inline.SampledAccesses, background.SampledAccesses);
        Assert.Equal(inline.Snapshot(), points);
        Assert.Contains(points, p => p.HitRatio > 0);
    }

    [Fact]
    public void A_full_ring_is_drained_by_the_tier_itself_and_nothing_is_lost()
    {
        // After Dispose no worker drains the ring: every 8 accesses past its 16 entries, the tier simulates a batch of
        // 8 (half the ring) itself, and the curve still equals the inline one.
        var options = new MissRatioCurveOptions { RingEntries = 16, Policies = ["s3fifo"] };
        var background = new MissRatioCurveEstimator(options, 32, "lru");
        using var inline = new MissRatioCurveEstimator(options with { Background = false }, 32, "lru");
        background.Dispose();
        Assert.False(background.WorkerAlive);
        var stream = Accesses(Fixed(600, seed: 2)).Take(1_000).ToArray();
        Assert.Equal(1_000, stream.Length);
        foreach (var (key, parent) in stream)
        {
            background.Observe(key, parent);
            inline.Observe(key, parent);
        }

        Assert.Equal((1_000 - 16) / 8, background.InlineDrains);
        Assert.Equal(1_000, background.ObservedAccesses);
        Assert.Equal(inline.Snapshot(), background.Snapshot());
        Assert.Equal(0, inline.InlineDrains);
    }

    [Fact]
    public void Disposing_the_tier_stops_the_estimators_thread_and_reports_its_processor_time()
    {
        var tier = new HostMemoryTier(new HostMemoryTierOptions { CapacityBytes = 16 * 4096, SlotBytes = 4096, Curves = new MissRatioCurveOptions() });
        var curves = tier.Curves!;
        Assert.True(curves.WorkerAlive);
        tier.Dispose();
        Assert.False(curves.WorkerAlive);
        tier.Dispose();
        curves.Dispose();
        if (OperatingSystem.IsLinux())
        {
            Assert.True(curves.BackgroundCpuSeconds >= 0);
        }

        using var inline = new MissRatioCurveEstimator(new MissRatioCurveOptions { Background = false }, 16, "lru");
        Assert.False(inline.WorkerAlive);
        Assert.Null(inline.BackgroundCpuSeconds);
    }

    [Fact]
    public void The_ring_is_counted_in_the_estimators_memory()
    {
        var options = new MissRatioCurveOptions { RingEntries = 1 << 14 };
        using var background = new MissRatioCurveEstimator(options, 1_000, "lru");
        using var inline = new MissRatioCurveEstimator(options with { Background = false }, 1_000, "lru");
        Assert.Equal(40, ObservationRing.EntryBytes);
        Assert.InRange(background.MemoryBytes - inline.MemoryBytes, (1 << 14) * 40, ((1 << 14) * 40) + 4096);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(100)]
    [InlineData(1 << 21)]
    public void A_ring_size_that_is_not_a_power_of_two_from_16_to_2_to_the_20_is_refused(int entries)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MissRatioCurveOptions { RingEntries = entries }.Validate());
        Assert.Contains("RingEntries", e.Message, StringComparison.Ordinal);
    }

    // Each request reads its chain from the root: the shared root (or the family's own), the family's depth-1 chunk,
    // then deeper chunks, each the parent of the next.
    private static IEnumerable<(ChunkKey Key, ChunkKey? Parent)> Accesses((int Family, int Length, bool SharedRoot)[] stream)
    {
        foreach (var (family, length, sharedRoot) in stream)
        {
            ChunkKey? parent = null;
            for (int d = 0; d < length; d++)
            {
                var key = d == 0 ? KeyOf(sharedRoot ? 0 : 1_000_000 + family) : KeyOf((family * 16) + d);
                yield return (key, parent);
                parent = key;
            }
        }
    }

    private static (int Family, int Length, bool SharedRoot)[] Fixed(int requests, int seed)
    {
        var rng = new Random(seed);
        var stream = new (int, int, bool)[requests];
        for (int i = 0; i < requests; i++)
        {
            stream[i] = (rng.Next(60), rng.Next(1, 7), rng.Next(2) == 0);
        }

        return stream;
    }

    private static ChunkKey KeyOf(int i) => new((UInt128)(uint)i + 1);
}
