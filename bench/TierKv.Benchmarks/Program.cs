using BenchmarkDotNet.Running;

namespace TierKv.Benchmarks;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher (<c>--filter</c>, <c>--job</c>, ... as documented in bench/README.md), or
/// <c>--check</c> to run every benchmark body once and verify that it does the work it claims to measure.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["--check"])
        {
            return SmokeCheck.Run(Console.Out);
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        foreach (var summary in summaries)
        {
            if (summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success))
            {
                return 1;
            }
        }

        return 0;
    }
}
