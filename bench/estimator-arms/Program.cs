// The live curve estimator off, inline and on its own thread, in rotation in one process (docs/operations.md, "Live
// curves"): per round one replay of each, in an order that rotates, so drift in a shared machine's speed falls on all
// three. Reports, per arm, the median wall time and the replay thread's own processor time, and the medians over the
// rounds of off's over each arm's (1: free).
// Usage: dotnet run -c Release --project bench/estimator-arms -- TRACE [rounds 15] [policy hedge] [dram-blocks 5859]
using System.Globalization;
using TierKv.Analysis.Replay;
using TierKv.Analysis.Traces;
using TierKv.Curves;
using TierKv.Metrics;

if (args.Length == 0)
{
    Console.Error.WriteLine("usage: estimator-arms TRACE [rounds] [policy] [dram-blocks]");
    return 2;
}

var trace = TraceFiles.Read(args[0]);
int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 15;
string policy = args.Length > 2 ? args[2] : "hedge";
int blocks = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5859;
string[] arms = ["off", "inline", "background"];
var wall = new double[arms.Length][];
var cpu = new double[arms.Length][];
for (int a = 0; a < arms.Length; a++)
{
    wall[a] = new double[rounds];
    cpu[a] = new double[rounds];
}

var workerCpu = new double[rounds];

// Round -1 warms the JIT and is not counted.
for (int r = -1; r < rounds; r++)
{
    for (int i = 0; i < arms.Length; i++)
    {
        int a = (i + Math.Max(r, 0)) % arms.Length;
        var curves = a == 0 ? null : new MissRatioCurveOptions { Background = a == 2 };
        using var replayer = new TraceReplayer(trace, new ReplayOptions { Policy = policy, DramBlocks = blocks, Curves = curves });
        int thread = Environment.CurrentManagedThreadId;
        double before = ThreadCpuClock.Now() ?? double.NaN;
        var result = await replayer.RunAsync();
        double after = ThreadCpuClock.Now() ?? double.NaN;
        if (thread != Environment.CurrentManagedThreadId)
        {
            Console.Error.WriteLine("the replay moved to another thread: its processor time is not comparable");
            return 1;
        }

        if (r >= 0)
        {
            wall[a][r] = result.Seconds;
            cpu[a][r] = after - before;
            if (a == 2)
            {
                workerCpu[r] = result.CurveCpuSeconds ?? double.NaN;
            }
        }
    }
}

for (int a = 0; a < arms.Length; a++)
{
    Console.WriteLine(FormattableString.Invariant($"{arms[a]}: wall {Median(wall[a]):F3} s, replay thread {Median(cpu[a]):F3} s (medians)"));
}

for (int a = 1; a < arms.Length; a++)
{
    Console.WriteLine(FormattableString.Invariant($"off/{arms[a]}: wall {Median(Ratios(wall[0], wall[a])):F4}, replay thread {Median(Ratios(cpu[0], cpu[a])):F4} (medians of the rounds' ratios)"));
}

Console.WriteLine(FormattableString.Invariant($"background thread: {Median(workerCpu):F3} s a replay (median)"));
return 0;

static double[] Ratios(double[] off, double[] on)
{
    var r = new double[off.Length];
    for (int i = 0; i < r.Length; i++)
    {
        r[i] = off[i] / on[i];
    }

    return r;
}

static double Median(double[] values)
{
    var v = (double[])values.Clone();
    Array.Sort(v);
    int n = v.Length;
    return n % 2 == 1 ? v[n / 2] : (v[(n / 2) - 1] + v[n / 2]) / 2;
}
