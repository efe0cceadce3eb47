using TierKv.Keys;
using TierKv.Memory;
using TierKv.Nvme.CrashChild;
using TierKv.Nvme.Io;
using TierKv.Tiers;

namespace TierKv.Nvme.Tests;

/// <summary>
/// The two ways the SSD tier's I/O reaches the device (<see cref="NvmeTierOptions.Submission"/>): which one a tier runs,
/// that both write and read the same slots, and that the io_uring path keeps reads, writes and write-behind exact when
/// they run together under its read preference.
/// </summary>
public sealed class SubmissionPathTests
{
    private static readonly KvLayout Layout = TestChunks.Layout;

    [Fact]
    public void Asking_for_threads_gives_the_thread_path_and_says_so()
    {
        using var dir = new TempDir();
        using var tier = new NvmeTier(NvmeTierTests.Options(dir.Path) with { Submission = IoSubmission.Threads });
        Assert.Equal("threads", tier.Submission);
        Assert.EndsWith(", threads", tier.IoMode, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Auto_takes_io_uring_where_the_kernel_allows_it()
    {
        var (available, detail) = IoUringProbe.Check();
        Skip.IfNot(available, $"io_uring unavailable here: {detail}");
        Assert.Equal(IoSubmission.IoUring, IoEngine.AutoSubmission);
        using var dir = new TempDir();
        using var tier = new NvmeTier(NvmeTierTests.Options(dir.Path));
        Assert.Equal("io_uring", tier.Submission);
        Assert.EndsWith(", io_uring", tier.IoMode, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void A_ring_whose_first_read_fails_falls_back_to_threads_with_one_logged_line()
    {
        var (available, detail) = IoUringProbe.Check();
        Skip.IfNot(available, $"io_uring unavailable here: {detail}");
        using var dir = new TempDir();
        var file = BlockFile.Open(Path.Combine(dir.Path, "closed.blocks"), preferDirect: true);
        file.Dispose(); // the probe read through the ring gets EBADF: a ring that cannot do I/O
        var lines = new List<string>();
        using var engine = IoEngine.Create(NvmeTierTests.Options(dir.Path) with { Submission = IoSubmission.IoUring }, file, lines.Add);
        Assert.Equal("threads", engine.Mode);
        var line = Assert.Single(lines);
        Assert.Contains("io_uring unavailable", line, StringComparison.Ordinal);
        Assert.Contains("first read", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_submission_settings_are_refused_naming_the_setting()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new NvmeTier(NvmeTierTests.Options(dir.Path) with { WritesDuringReads = -1 }));
        Assert.Contains("WritesDuringReads", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new NvmeTier(NvmeTierTests.Options(dir.Path) with { Submission = (IoSubmission)7 }));
        Assert.Contains("Submission", e.Message, StringComparison.Ordinal);
        Assert.Equal(4, (NvmeTierTests.Options(dir.Path) with { WritesDuringReads = 0 }).EffectiveWritesDuringReads); // 0: the queue depth
        Assert.Equal(4, (NvmeTierTests.Options(dir.Path) with { WritesDuringReads = 9 }).EffectiveWritesDuringReads);
    }

    [Theory]
    [InlineData(IoSubmission.IoUring, IoSubmission.Threads)]
    [InlineData(IoSubmission.Threads, IoSubmission.IoUring)]
    public async Task Chunks_written_on_one_path_are_served_on_the_other_after_a_restart(IoSubmission writer, IoSubmission reader)
    {
        using var dir = new TempDir();
        using (var tier = new NvmeTier(NvmeTierTests.Options(dir.Path) with { Submission = writer }))
        {
            for (int n = 0; n < 4; n++)
            {
                Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n)));
            }

            Assert.Equal(TierWriteStatus.Stored, tier.TryWriteBehind(Layout, TestChunks.Key(4), null, NvmeTierTests.Payload(4)));
        }

        using var reopened = new NvmeTier(NvmeTierTests.Options(dir.Path) with { Submission = reader });
        Assert.Equal(5, reopened.Recovery.RecoveredChunks);
        var dest = new byte[Layout.ChunkBytes];
        for (int n = 0; n < 5; n++)
        {
            Assert.Equal(TierReadStatus.Hit, await reopened.ReadAsync(Layout, TestChunks.Key(n), dest));
            Assert.Equal(NvmeTierTests.Payload(n), dest);
        }
    }

    [Theory]
    [InlineData(IoSubmission.IoUring, 1)]
    [InlineData(IoSubmission.IoUring, 0)]
    [InlineData(IoSubmission.Threads, 1)]
    public async Task Reads_writes_and_write_behind_in_flight_together_all_complete_exactly(IoSubmission submission, int writesDuringReads)
    {
        // Aligned readers (zero copy) and unaligned ones (staging), synchronous writers and write-behind, all at once,
        // with more I/O than the queue depth: under the read preference every request still completes, exactly.
        const int chunks = 24;
        using var dir = new TempDir();
        // Room for every chunk written (24 read back throughout, 48 more by the writers): an eviction would turn a reader's
        // hit into a miss depending on how the threads interleave.
        using var tier = new NvmeTier(NvmeTierTests.Options(dir.Path, chunks: 128) with { Submission = submission, WritesDuringReads = writesDuringReads, QueueDepth = 2 });
        for (int n = 0; n < chunks; n++)
        {
            Assert.Equal(TierWriteStatus.Stored, await tier.WriteAsync(Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n)));
        }

        int cb = Layout.ChunkBytes;
        nint aligned = DirectIoMemory.Allocate(cb * 4L);
        try
        {
            var managers = Enumerable.Range(0, 4).Select(i => new NativeMemoryManager(aligned + (i * cb), cb)).ToArray();
            var readers = Enumerable.Range(0, 4).Select(lane => Task.Run(async () =>
            {
                var unaligned = new byte[cb];
                for (int i = 0; i < 3 * chunks; i++)
                {
                    int n = (i * 7 + lane) % chunks;
                    var dest = lane % 2 == 0 ? managers[lane].Memory : unaligned;
                    Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(Layout, TestChunks.Key(n), dest));
                    Assert.True(dest.Span.SequenceEqual(NvmeTierTests.Payload(n)), $"chunk {n} read back other bytes");
                }
            })).ToArray();
            var writers = Enumerable.Range(0, 2).Select(lane => Task.Run(async () =>
            {
                for (int i = 0; i < chunks; i++)
                {
                    long n = 1000 + (lane * chunks) + i;
                    var s = lane == 0
                        ? await tier.WriteAsync(Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n))
                        : tier.ReserveWriteBehind(TimeSpan.FromMinutes(1)) ? tier.WriteBehindReserved(Layout, TestChunks.Key(n), null, NvmeTierTests.Payload(n)) : TierWriteStatus.NotAdmitted;
                    Assert.Equal(TierWriteStatus.Stored, s);
                }
            })).ToArray();
            await Task.WhenAll(readers.Concat(writers));
            await tier.DrainAsync();
            Assert.Equal(0, tier.IoErrors);
            Assert.Equal(0, tier.DamagedReads);
            var check = new byte[cb];
            foreach (long n in Enumerable.Range(0, 2 * chunks).Select(i => 1000L + i))
            {
                if (tier.Contains(TestChunks.Key(n)))
                {
                    Assert.Equal(TierReadStatus.Hit, await tier.ReadAsync(Layout, TestChunks.Key(n), check));
                    Assert.Equal(NvmeTierTests.Payload(n), check);
                }
            }
        }
        finally
        {
            DirectIoMemory.Free(aligned);
        }
    }
}
