using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TierKv.Cuda;
using TierKv.Cuda.Bench;
using TierKv.Cuda.Checks;
using TierKv.Cuda.Transfer;
using TierKv.Keys;

// tierkv-gpu: the NativeAOT runner of the device script. Verbs:
//   probe                      say whether a GPU is usable and what is missing
//   compile [MAJOR MINOR [FILE]] compile the kernels with NVRTC only (no GPU needed), default sm_90; FILE gets the image
//   selftest                   the GPU checks (the same code as the xunit GPU tests), "N passed, N failed"
//   bench [--json] [--tokens N] [--block-size 16|32] [--reps N]   the same benchmark as `tierkv bench gpu`
string verb = args.Length > 0 ? args[0] : "help";
try
{
    return verb switch
    {
        "probe" => Probe(),
        "selftest" => SelfTest(),
        "compile" => Compile(args[1..]),
        "bench" => Bench(args[1..]),
        _ => Usage(),
    };
}
catch (GpuUnavailableException ex)
{
    Console.Error.WriteLine($"tierkv-gpu: no GPU: {ex.Message}");
    return 3;
}
catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or CudaException)
{
    Console.Error.WriteLine($"tierkv-gpu: {ex.Message}");
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("usage: tierkv-gpu probe | compile [MAJOR MINOR [FILE]] | selftest | bench [--json] [--tokens N] [--block-size 16|32] [--reps N]");
    return 64;
}

static int Probe()
{
    var a = CudaDevice.Probe();
    Console.WriteLine(a.IsAvailable ? $"GPU available: {a.DeviceCount} device(s)" : $"no GPU: {a.Reason}");
    return a.IsAvailable ? 0 : 3;
}

static int Compile(string[] args)
{
    int major = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 9;
    int minor = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0;
    var (nvMajor, nvMinor) = TierKv.Cuda.Kernels.KernelCompiler.NvrtcVersion();
    var k = TierKv.Cuda.Kernels.KernelCompiler.Compile(TierKv.Cuda.Kernels.KernelCompiler.ReadSource(TierKv.Cuda.Kernels.KernelCompiler.KvTransferSource), TierKv.Cuda.Kernels.KernelCompiler.KvTransferSource, major, minor);
    if (args.Length > 2)
    {
        File.WriteAllBytes(args[2], k.Image);
    }

    Console.WriteLine($"NVRTC {nvMajor}.{nvMinor}: {k.ArchOption}, {(k.IsCubin ? "cubin" : "ptx")} of {k.Image.Length} bytes in {k.CompileMilliseconds:F1} ms{(k.Log.Length > 0 ? "; log: " + k.Log : "")}");
    return 0;
}

static int SelfTest()
{
    using var device = CudaDevice.Open();
    Console.WriteLine($"device: {device}; kernels {device.Kernels.ArchOption} ({(device.Kernels.IsCubin ? "cubin" : "ptx")}), compiled in {device.Kernels.CompileMilliseconds:F1} ms, module loaded in {device.ModuleLoadMilliseconds:F1} ms");
    int passed = 0, failed = 0, seed = Environment.TickCount & 0xFFFF;
    void Run(string name, Action check)
    {
        long t0 = Stopwatch.GetTimestamp();
        try
        {
            check();
            passed++;
            Console.WriteLine($"PASS {name} ({Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F0} ms)");
        }
        catch (Exception ex)
        {
            // A runner reports every failure, whatever its type, and goes on to the next check.
            failed++;
            Console.WriteLine($"FAIL {name}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    foreach (var type in new[] { KvElementType.BFloat16, KvElementType.Float16 })
    {
        foreach (int block in new[] { 16, 32 })
        {
            foreach (var path in new[] { TransferPath.Staged, TransferPath.Mapped })
            {
                foreach (int group in new[] { 1, 0 })
                {
                    foreach (bool contiguous in new[] { false, true })
                    {
                        if (path == TransferPath.Mapped && group == 0)
                        {
                            continue;
                        }

                        int s = seed++;
                        string name = string.Create(CultureInfo.InvariantCulture, $"round trip {KvElementTypes.ShortName(type)} block {block} {path} group {group} {(contiguous ? "contiguous" : "scattered")} seed {s}");
                        Run(name, () => GpuTransferChecks.RoundTrip(device, type, block, path, group, contiguous, s));
                    }
                }
            }
        }
    }

    Run("pinned DRAM tier: load from leased slots, save into reserved slots", () => GpuTransferChecks.PinnedTierRoundTrip(device, seed));
    Run("a failing driver call names the call", () => GpuTransferChecks.ErrorsNameTheCall(device));
    Console.WriteLine($"{passed} passed, {failed} failed");
    return failed == 0 ? 0 : 1;
}

static int Bench(string[] args)
{
    var options = new GpuBenchOptions();
    for (int i = 0; i < args.Length; i++)
    {
        string value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
        int number() => int.Parse(value(), CultureInfo.InvariantCulture);
        switch (args[i])
        {
            case "--json": break; // JSON is always what goes to standard output; progress goes to standard error.
            case "--tokens": options = options with { Tokens = number() }; break;
            case "--block-size": options = options with { BlockSize = number() }; break;
            case "--reps": options = options with { Reps = number() }; break;
            case "--model": options = options with { Model = value() }; break;
            case "--no-naive": options = options with { Naive = false }; break;
            default: throw new ArgumentException($"Unknown option {args[i]}.");
        }
    }

    JsonObject result = GpuTransferBench.Run(options, line => Console.Error.WriteLine(line));
    using var stdout = Console.OpenStandardOutput();
    using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
    {
        result.WriteTo(writer);
    }

    stdout.Write(Encoding.UTF8.GetBytes(Environment.NewLine));
    return 0;
}
