using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace TierKv.Engine.Math;

/// <summary>
/// The float32 FMA peak of this machine, two ways: nominal, from <c>/proc/cpuinfo</c> (vector width and FMA units
/// implied by the CPU's flags and family, times the reported clock), and measured, from a loop of independent
/// register-only FMAs (which sees the real, possibly boosted, clock).
/// </summary>
public static class FmaPeak
{
    /// <summary>What /proc/cpuinfo says.</summary>
    /// <param name="Model">CPU model name.</param>
    /// <param name="Megahertz">Reported clock ("cpu MHz").</param>
    /// <param name="FlopsPerCycle">float32 FLOPs per cycle per core implied by the flags (FMA = 2 FLOPs per lane).</param>
    /// <param name="Reasoning">How <paramref name="FlopsPerCycle"/> was derived.</param>
    public sealed record CpuInfo(string Model, double Megahertz, int FlopsPerCycle, string Reasoning);

    /// <summary>Reads /proc/cpuinfo (Linux); null elsewhere.</summary>
    public static CpuInfo? ReadCpuInfo()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path))
        {
            return null;
        }

        string model = "", vendor = "", flags = "";
        double mhz = 0;
        int family = 0;
        foreach (string line in File.ReadLines(path))
        {
            int colon = line.IndexOf(':');
            if (colon < 0)
            {
                if (flags.Length > 0)
                {
                    break;
                }

                continue;
            }

            string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "model name": model = value; break;
                case "vendor_id": vendor = value; break;
                case "cpu family": family = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "cpu MHz": mhz = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "flags": flags = " " + value + " "; break;
                default: break;
            }
        }

        bool avx512 = flags.Contains(" avx512f ", StringComparison.Ordinal);
        bool fma = flags.Contains(" fma ", StringComparison.Ordinal);
        int perCycle;
        string why;
        if (avx512 && vendor == "AuthenticAMD")
        {
            // Zen 4 (family 25 with AVX-512) and Zen 5 desktop parts: two 256-bit FMA pipes, a 512-bit FMA per cycle.
            perCycle = 16 * 2;
            why = $"AMD family {family} with avx512f: 2 FMA pipes x 256 bit = 16 float32 lanes x 2 FLOPs per cycle";
        }
        else if (avx512)
        {
            perCycle = 2 * 16 * 2;
            why = "Intel avx512f server core: 2 FMA units x 512 bit = 32 lanes x 2 FLOPs per cycle";
        }
        else if (fma)
        {
            perCycle = 2 * 8 * 2;
            why = "avx2 + fma: 2 FMA units x 256 bit = 16 lanes x 2 FLOPs per cycle";
        }
        else
        {
            perCycle = 4 * 2;
            why = "no FMA flag: one 128-bit multiply-add per cycle";
        }

        return new CpuInfo(model, mhz, perCycle, why);
    }

    /// <summary>
    /// Measures FMA throughput on <paramref name="threads"/> threads with 12 independent 512-bit accumulator chains
    /// each (enough to cover FMA latency), in GFLOP/s.
    /// </summary>
    public static double Measure(int threads, double seconds = 0.3)
    {
        long iterations = 2_000_000;
        double best = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Chains(iterations));
            double s = sw.Elapsed.TotalSeconds;
            best = System.Math.Max(best, threads * iterations * 12.0 * 16 * 2 / s / 1e9);
            if (s < seconds / 3)
            {
                iterations *= 2;
            }
        }

        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains(long iterations)
    {
        var m = Vector512.Create(0.999999f);
        var a = Vector512.Create(1e-7f);
        Vector512<float> c0 = Vector512.Create(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a);
            c1 = Vector512.FusedMultiplyAdd(c1, m, a);
            c2 = Vector512.FusedMultiplyAdd(c2, m, a);
            c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a);
            c5 = Vector512.FusedMultiplyAdd(c5, m, a);
            c6 = Vector512.FusedMultiplyAdd(c6, m, a);
            c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a);
            c9 = Vector512.FusedMultiplyAdd(c9, m, a);
            c10 = Vector512.FusedMultiplyAdd(c10, m, a);
            c11 = Vector512.FusedMultiplyAdd(c11, m, a);
        }

        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
