using System.Runtime.InteropServices;
using TierKv.Nvme.Io;

namespace TierKv.Cli.Commands.Probe;

/// <summary>The local SSD under the probe directory: sequential 4 MiB I/O at queue depth 8, random 4 KiB reads at depth 1.</summary>
internal sealed unsafe class SsdProbeMedium : IProbeMedium
{
    private const int Block = 4 << 20;
    private const int Depth = 8;

    public string Name => "ssd";

    public ProbeMeasurement? Measure(ProbeContext context)
    {
        string dir = Path.Combine(context.Directory, $"tierkv-probe-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        long bytes = context.Quick ? 128L << 20 : 1L << 30;
        int blocks = (int)(bytes / Block);
        var buffers = new nint[Depth];
        try
        {
            for (int i = 0; i < Depth; i++)
            {
                buffers[i] = (nint)NativeMemory.AlignedAlloc(Block, BlockFile.Alignment);
                Random.Shared.NextBytes(new Span<byte>((void*)buffers[i], Block));
            }

            using var f = BlockFile.Open(Path.Combine(dir, "probe.blocks"), preferDirect: true);
            if (f.Allocate(0, bytes) != 0)
            {
                f.SetLength(bytes);
            }

            f.ConfirmDirect();
            string mode = f.IsDirect ? "O_DIRECT" : $"buffered ({f.FallbackReason}); figures include the page cache";
            var (uring, why) = IoUringProbe.Check();
            mode += uring ? "; tier submission io_uring" : $"; tier submission threads ({why})";
            context.Log?.Invoke($"ssd: {bytes >> 20} MiB in {dir}, {mode}");
            var write = new List<double>();
            var read = new List<double>();
            for (int r = 0; r < 3; r++)
            {
                write.Add(bytes / Pass(f, buffers, blocks, write: true) / 1e9);
                read.Add(bytes / Pass(f, buffers, blocks, write: false) / 1e9);
            }

            var lat = new List<double>();
            var rng = new Random(5);
            for (int i = 0; i < (context.Quick ? 100 : 500); i++)
            {
                long off = rng.NextInt64(bytes / BlockFile.Alignment) * BlockFile.Alignment;
                long t0 = Stopwatch.GetTimestamp();
                f.ReadAt(buffers[0], BlockFile.Alignment, off);
                lat.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            }

            return new ProbeMeasurement(Name, Stats.Median(read), Stats.Median(write), Stats.Median(lat), $"{mode}; 4 MiB pieces at depth {Depth}; 4 KiB random reads at depth 1");
        }
        finally
        {
            foreach (var b in buffers)
            {
                if (b != 0)
                {
                    NativeMemory.AlignedFree((void*)b);
                }
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Pass(BlockFile f, nint[] buffers, int blocks, bool write)
    {
        int next = -1;
        long error = 0;
        var threads = new Thread[buffers.Length];
        long t0 = Stopwatch.GetTimestamp();
        for (int t = 0; t < threads.Length; t++)
        {
            nint buf = buffers[t];
            threads[t] = new Thread(() =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < blocks)
                {
                    long r = write ? f.WriteAt(buf, Block, (long)i * Block) : f.ReadAt(buf, Block, (long)i * Block);
                    if (r != Block)
                    {
                        Interlocked.Exchange(ref error, r < 0 ? r : -5);
                    }
                }
            });
            threads[t].Start();
        }

        foreach (var th in threads)
        {
            th.Join();
        }

        double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return error != 0 ? throw new IOException($"Probe I/O failed in '{f.Path}': {BlockFile.Describe(error)}.") : s;
    }
}
