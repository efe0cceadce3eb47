using TierKv.Nvme;
using TierKv.Nvme.CrashChild;
using TierKv.Nvme.Io;
using TierKv.Tiers;

// Usage: crashchild DIR FIRST COUNT [SUBMISSION]. Stores chunks FIRST.. FIRST+COUNT-1 into an SSD tier in DIR with a few
// writes in flight (through the submission path named, Threads or IoUring; default Auto), printing "stored N" after each
// Store completed, until killed (or done).
string dir = args[0];
long first = long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
int count = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var layout = TestChunks.Layout;
var submission = args.Length > 3 ? Enum.Parse<IoSubmission>(args[3]) : IoSubmission.Auto;
using var tier = new NvmeTier(TestChunks.Options(dir) with { Submission = submission });
Console.Out.WriteLine($"ready {tier.Submission}");
Console.Out.Flush();
var inflight = new List<(long N, Task<TierWriteStatus> Task)>();
for (long n = first; n < first + count; n++)
{
    var payload = new byte[layout.ChunkBytes];
    TestChunks.Fill(n, payload);
    inflight.Add((n, tier.WriteAsync(layout, TestChunks.Key(n), null, payload).AsTask()));
    if (inflight.Count >= 4)
    {
        var (done, t) = inflight[0];
        inflight.RemoveAt(0);
        if (await t == TierWriteStatus.Stored)
        {
            Console.Out.WriteLine($"stored {done}");
            Console.Out.Flush();
        }
    }
}

foreach (var (done, t) in inflight)
{
    if (await t == TierWriteStatus.Stored)
    {
        Console.Out.WriteLine($"stored {done}");
    }
}

Console.Out.WriteLine("done");
