using CsCheck;
using TierKv.Nvme.Io;

namespace TierKv.Nvme.Tests;

/// <summary>
/// The io_uring engine's admission order (<see cref="IoAdmission{T}"/>): reads go before queued writes, and while a read
/// waits or runs only a few writes stay in the device. Deterministic: the order itself, no timing.
/// </summary>
public sealed class IoAdmissionTests
{
    [Fact]
    public void A_read_issued_while_the_write_queue_is_full_is_admitted_before_the_queued_writes()
    {
        var admission = new IoAdmission<string>(reads: 4, writes: 4, writesDuringReads: 1);
        for (int i = 0; i < 10; i++)
        {
            admission.Enqueue($"w{i}", isWrite: true);
        }

        Assert.Equal(["w0", "w1", "w2", "w3"], Drain(admission)); // the device's write slots fill; six writes queue
        admission.Enqueue("r0", isWrite: false);

        Assert.Equal(["r0"], Drain(admission)); // ahead of w4..w9, with every write slot busy
        Assert.Equal(4, admission.WritesInFlight);
        Assert.Equal(1, admission.ReadsInFlight);
    }

    [Fact]
    public void While_a_read_runs_writes_are_admitted_only_below_the_cap_and_resume_after_it()
    {
        var admission = new IoAdmission<string>(reads: 4, writes: 4, writesDuringReads: 1);
        for (int i = 0; i < 10; i++)
        {
            admission.Enqueue($"w{i}", isWrite: true);
        }

        Drain(admission);
        admission.Enqueue("r0", isWrite: false);
        Drain(admission);

        // Three writes leave the device: with the read in flight, none enters while one write is still there.
        for (int i = 0; i < 3; i++)
        {
            admission.Completed(isWrite: true);
            Assert.Empty(Drain(admission));
        }

        admission.Completed(isWrite: true);
        Assert.Equal(["w4"], Drain(admission)); // below the cap of one: one enters

        admission.Completed(isWrite: false); // the read is done: the full queue depth again
        Assert.Equal(["w5", "w6", "w7"], Drain(admission));
    }

    [Fact]
    public void Without_read_preference_reads_still_go_first_but_writes_keep_the_whole_depth()
    {
        var admission = new IoAdmission<string>(reads: 2, writes: 3, writesDuringReads: 3);
        admission.Enqueue("w0", isWrite: true);
        admission.Enqueue("r0", isWrite: false);
        admission.Enqueue("w1", isWrite: true);
        admission.Enqueue("r1", isWrite: false);
        admission.Enqueue("r2", isWrite: false);
        admission.Enqueue("w2", isWrite: true);
        Assert.Equal(["r0", "r1", "w0", "w1", "w2"], Drain(admission)); // r2 waits for a read slot
        admission.Completed(isWrite: false);
        Assert.Equal(["r2"], Drain(admission));
    }

    [Fact]
    public void Limits_below_one_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new IoAdmission<string>(0, 4, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new IoAdmission<string>(4, 4, 0));
    }

    /// <summary>
    /// Any interleaving of arrivals, admissions and completions: nothing is lost or duplicated, each kind keeps its
    /// arrival order, the limits hold, a read never waits while a read slot is free, and writes above the cap never
    /// enter while a read waits or runs.
    /// </summary>
    [Fact]
    public void Any_sequence_keeps_order_and_limits_and_loses_nothing()
    {
        // Steps: 0 = a read arrives, 1 = a write arrives, 2 = a read completes, 3 = a write completes; admit after each.
        Gen.Select(Gen.Int[1, 6], Gen.Int[1, 8], Gen.Int[1, 8], Gen.Int[0, 3].Array[1, 200]).Sample((reads, writes, cap, steps) =>
        {
            int effectiveCap = Math.Min(cap, writes);
            var admission = new IoAdmission<string>(reads, writes, cap);
            var started = new List<string>();
            int nextRead = 0, nextWrite = 0;
            foreach (int step in steps)
            {
                switch (step)
                {
                    case 0:
                        admission.Enqueue($"r{nextRead++}", isWrite: false);
                        break;
                    case 1:
                        admission.Enqueue($"w{nextWrite++}", isWrite: true);
                        break;
                    case 2 when admission.ReadsInFlight > 0:
                        admission.Completed(isWrite: false);
                        break;
                    case 3 when admission.WritesInFlight > 0:
                        admission.Completed(isWrite: true);
                        break;
                }

                int writesBefore = admission.WritesInFlight;
                while (admission.TryNext(out var r, out bool isWrite))
                {
                    Assert.Equal(r[0] == 'w', isWrite);
                    started.Add(r);
                    if (isWrite && admission.ReadsInFlight + admission.QueuedReads > 0)
                    {
                        Assert.True(admission.WritesInFlight <= effectiveCap, "a write entered above the cap while a read waits or runs");
                    }
                }

                Assert.True(admission.ReadsInFlight <= reads && admission.WritesInFlight <= Math.Max(writes, writesBefore));
                Assert.True(admission.QueuedReads == 0 || admission.ReadsInFlight == reads, "a read waits with a read slot free");
            }

            // Each kind starts in arrival order, and all that started plus all still queued is all that arrived.
            var startedReads = started.Where(s => s[0] == 'r').ToList();
            var startedWrites = started.Where(s => s[0] == 'w').ToList();
            Assert.Equal(Enumerable.Range(0, startedReads.Count).Select(i => $"r{i}"), startedReads);
            Assert.Equal(Enumerable.Range(0, startedWrites.Count).Select(i => $"w{i}"), startedWrites);
            Assert.Equal(nextRead, startedReads.Count + admission.QueuedReads);
            Assert.Equal(nextWrite, startedWrites.Count + admission.QueuedWrites);
        });
    }

    private static List<string> Drain(IoAdmission<string> admission)
    {
        var started = new List<string>();
        while (admission.TryNext(out var r, out _))
        {
            started.Add(r);
        }

        return started;
    }
}
