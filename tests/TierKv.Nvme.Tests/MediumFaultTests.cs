using System.Collections.Concurrent;
using TierKv.Keys;
using TierKv.Metrics;
using TierKv.Nvme.CrashChild;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>
/// Fault injection on the SSD medium: failed, short and torn writes, failed and flipped reads, a full disk. Every fault is
/// a status, a counted error and a miss; the tier never serves the version a failed write replaced, nor damaged bytes,
/// and it goes on working (and reopens) afterwards. Stated once and run on both submission paths (the subclasses).
/// </summary>
public abstract class MediumFaultTests : IDisposable
{
    private static readonly KvLayout Layout = TestChunks.Layout;
    private readonly TempDir _dir = new();
    private readonly ScriptedFaults _faults = new();

    /// <summary>The submission path under test.</summary>
    protected abstract IoSubmission Submission { get; }

    public void Dispose()
    {
        _dir.Dispose();
        GC.SuppressFinalize(this);
    }

    [SkippableFact]
    public void The_tier_runs_on_the_submission_path_under_test()
    {
        Skip.If(Submission == IoSubmission.IoUring && !IoUringProbe.Check().Available, $"io_uring unavailable here: {IoUringProbe.Check().Detail}");
        using var tier = new NvmeTier(Options());
        Assert.Equal(Submission == IoSubmission.IoUring ? "io_uring" : "threads", tier.Submission);
    }

    private NvmeTierOptions Options() => NvmeTierTests.Options(_dir.Path) with { Faults = _faults, Submission = Submission };

    private static byte[] Value(int key, long version) => NvmeTierTests.Payload((key * 100_000L) + version);

    private static async Task<(TierReadStatus Status, byte[] Bytes)> Read(NvmeTier tier, int key)
    {
        var buf = new byte[Layout.ChunkBytes];
        return (await tier.ReadAsync(Layout, TestChunks.Key(key), buf), buf);
    }

    [Theory]
    [InlineData(MediumFault.Fail)]
    [InlineData(MediumFault.Short)]
    public async Task A_failed_overwrite_is_counted_and_serves_neither_the_old_value_nor_damaged_bytes(MediumFault fault)
    {
        using var metrics = new TierKvMetrics();
        using var tier = new NvmeTier(Options(), metrics);
        tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 1), version: 1);
        await tier.DrainAsync();

        _faults.Writes.Enqueue(fault);
        Assert.Equal(TierWriteStatus.Stored, tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 2), version: 2));
        await tier.DrainAsync();

        Assert.Equal(1, tier.IoErrors);
        Assert.Equal(TierReadStatus.Miss, (await Read(tier, 1)).Status); // never version 1 again
        Assert.True(metrics.ForTier("ssd").IoErrors >= 1);

        // The tier goes on: a new version lands and is served, also after a reopen.
        Assert.Equal(TierWriteStatus.Stored, tier.TryWriteBehind(Layout, TestChunks.Key(1), null, Value(1, 3), version: 3));
        var (status, bytes) = await Read(tier, 1);
        Assert.Equal(TierReadStatus.Hit, status);
        Assert.Equal(Value(1, 3), bytes);
    }

    [Fact]
    public async Task A_torn_write_that_claims_success_is_caught_by_the_checksum_as_a_miss()
    {
        using var tier = new NvmeTier(Options());
        _faults.Writes.Enqueue(MediumFault.Torn);
        Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(2), null, Value(2, 0)));
        Assert.Equal(TierReadStatus.Damaged, (await Read(tier, 2)).Status);
        Assert.Equal(1, tier.DamagedReads);
        Assert.False(tier.Contains(TestChunks.Key(2))); // dropped
        Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(2), null, Value(2, 0)));
        Assert.Equal(Value(2, 0), (await Read(tier, 2)).Bytes);
    }

    [Theory]
    [InlineData(MediumFault.Fail, TierReadStatus.Failed)]
    [InlineData(MediumFault.Short, TierReadStatus.Damaged)]
    [InlineData(MediumFault.FlipByte, TierReadStatus.Damaged)]
    public async Task A_bad_read_is_a_status_never_bytes(MediumFault fault, TierReadStatus expected)
    {
        using var tier = new NvmeTier(Options());
        Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(3), null, Value(3, 0)));
        _faults.Reads.Enqueue(fault);
        var (status, bytes) = await Read(tier, 3);
        Assert.Equal(expected, status);
        Assert.NotEqual(Value(3, 0), bytes.AsSpan().ContainsAnyExcept((byte)0) ? null : bytes); // nothing claimed valid
        Assert.False(tier.Contains(TestChunks.Key(3)));
    }

    [Fact]
    public async Task A_full_disk_declines_the_write_keeps_serving_reads_and_admits_again_later()
    {
        using var tier = new NvmeTier(Options());
        Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(4), null, Value(4, 0)));
        _faults.Writes.Enqueue(MediumFault.NoSpace);
        Assert.Equal(TierWriteStatus.NoSpace, await tier.WriteAsync(Layout, TestChunks.Key(5), null, Value(5, 0)));
        Assert.Equal(1, tier.NoSpaceRejections - 0);
        Assert.Equal(Value(4, 0), (await Read(tier, 4)).Bytes);
        Assert.True(tier.CapacityBytes < 16L * Layout.ChunkBytes); // the slot without blocks is retired
    }

    [Fact]
    public async Task After_faults_a_reopen_serves_exactly_the_versions_that_were_written_whole()
    {
        var opts = Options();
        using (var tier = new NvmeTier(opts))
        {
            for (int k = 0; k < 6; k++)
            {
                tier.TryWriteBehind(Layout, TestChunks.Key(k), null, Value(k, 1), version: 1);
            }

            await tier.DrainAsync();
            for (int k = 0; k < 6; k++)
            {
                if (k < 2)
                {
                    _faults.Writes.Enqueue(k == 0 ? MediumFault.Fail : MediumFault.Short);
                }

                tier.TryWriteBehind(Layout, TestChunks.Key(k), null, Value(k, 2), version: 2);
                await tier.DrainAsync();
            }
        }

        _faults.Writes.Clear();
        using var reopened = new NvmeTier(opts);
        int hits = 0;
        for (int k = 0; k < 6; k++)
        {
            var (status, bytes) = await Read(reopened, k);
            if (status == TierReadStatus.Hit)
            {
                Assert.Equal(Value(k, 2), bytes); // only the newest version, whole
                hits++;
            }
        }

        Assert.Equal(4, hits); // the two keys whose overwrite failed are misses, not version 1
    }

    /// <summary>Faults handed out in order to the next writes and reads (then none).</summary>
    private sealed class ScriptedFaults : IMediumFaults
    {
        public ConcurrentQueue<MediumFault> Writes { get; } = new();

        public ConcurrentQueue<MediumFault> Reads { get; } = new();

        public MediumFault Next(bool isWrite, long offset, long length) =>
            (isWrite ? Writes : Reads).TryDequeue(out var f) ? f : MediumFault.None;
    }
}

/// <summary>The fault contract on the thread path.</summary>
public sealed class ThreadPathMediumFaultTests : MediumFaultTests
{
    protected override IoSubmission Submission => IoSubmission.Threads;
}

/// <summary>The fault contract on the io_uring path (the thread path where the kernel refuses io_uring).</summary>
public sealed class IoUringMediumFaultTests : MediumFaultTests
{
    protected override IoSubmission Submission => IoSubmission.IoUring;
}
