using System.Runtime.InteropServices;

namespace TierKv.Cli.Commands.Probe;

/// <summary>Host DRAM: memcpy throughput of chunk-sized pieces and the latency of dependent random loads.</summary>
internal sealed unsafe class DramProbeMedium : IProbeMedium
{
    public string Name => "dram";

    public ProbeMeasurement? Measure(ProbeContext context)
    {
        long bytes = context.Quick ? 64L << 20 : 512L << 20;
        const int piece = 32 << 20;
        byte* a = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        byte* b = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        try
        {
            new Span<byte>(a, (int)Math.Min(bytes, int.MaxValue)).Fill(3);
            new Span<byte>(b, (int)Math.Min(bytes, int.MaxValue)).Fill(4);
            var copy = new List<double>();
            for (int r = 0; r < 4; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (long off = 0; off + piece <= bytes; off += piece)
                {
                    Buffer.MemoryCopy(a + off, b + off, piece, piece);
                }

                double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (r > 0)
                {
                    copy.Add(bytes / s / 1e9);
                }
            }

            // Dependent loads over a random cycle through the buffer (64-byte lines): each load waits for the last.
            int lines = (int)(bytes / 64);
            var next = (int*)a;
            var perm = new int[lines];
            for (int i = 0; i < lines; i++)
            {
                perm[i] = i;
            }

            new Random(1).Shuffle(perm);
            for (int i = 0; i < lines; i++)
            {
                next[perm[i] * 16] = perm[(i + 1) % lines] * 16;
            }

            int hops = context.Quick ? 200_000 : 2_000_000;
            int p = 0;
            long t1 = Stopwatch.GetTimestamp();
            for (int i = 0; i < hops; i++)
            {
                p = next[p];
            }

            double ns = Stopwatch.GetElapsedTime(t1).TotalNanoseconds / hops;
            GC.KeepAlive(p);
            double gbs = Stats.Median(copy);
            return new ProbeMeasurement(Name, gbs, gbs, ns / 1000, $"memcpy of {piece >> 20} MiB pieces over {bytes >> 20} MiB, one thread; latency of dependent random loads");
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
        }
    }
}
