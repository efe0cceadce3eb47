using System.Diagnostics;

namespace TierKv.Cuda.Tests;

/// <summary>
/// The transfer pipeline on a CPU stand-in for the CUDA driver and NVRTC (StandIn/cuda_stand_in.cpp), so machines
/// without a GPU (CI) still run the C# orchestration and the kernels' index arithmetic (the real .cu source, compiled
/// as C++) against the CPU reference. It measures nothing and proves nothing about a GPU: the GPU tests do that.
/// The checks run in a child process (the NativeAOT runner's code under `dotnet exec`) because the driver library is
/// loaded once per process.
/// </summary>
public sealed class StandInDriverTests
{
    [SkippableFact]
    public void Transfer_pipeline_passes_the_gpu_checks_on_a_cpu_stand_in_driver()
    {
        string repo = RepositoryRoot();
        string source = Path.Combine(repo, "tests", "TierKv.Cuda.Tests", "StandIn", "cuda_stand_in.cpp");
        string kernels = Path.Combine(repo, "src", "TierKv.Cuda", "Kernels");
        string runner = Path.Combine(AppContext.BaseDirectory, "tierkv-gpu.dll");
        Skip.IfNot(File.Exists(runner), $"The runner {runner} was not built next to the tests.");
        string library = Path.Combine(Path.GetTempPath(), $"tierkv-cuda-stand-in-{Environment.ProcessId}.so");
        try
        {
            var (gccExit, gccOutput) = Run("g++", ["-O2", "-shared", "-fPIC", "-std=c++17", "-w", "-I" + kernels, "-o", library, source], null);
            Skip.If(gccExit == -1, "No g++ on this machine to build the stand-in driver.");
            Assert.True(gccExit == 0, "g++ failed: " + gccOutput);

            var env = new Dictionary<string, string> { ["TIERKV_LIBCUDA"] = library, ["TIERKV_NVRTC"] = library };
            var (exit, output) = Run("dotnet", ["exec", runner, "selftest"], env);
            Assert.True(exit == 0, output);
            Assert.Contains("CPU stand-in", output, StringComparison.Ordinal);
            Assert.Contains("26 passed, 0 failed", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(library);
        }
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TierKv.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("TierKv.slnx not found above " + AppContext.BaseDirectory);
    }

    private static (int Exit, string Output) Run(string file, string[] args, Dictionary<string, string>? env)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (env is not null)
        {
            foreach (var (k, v) in env)
            {
                psi.Environment[k] = v;
            }
        }

        Process? p;
        try
        {
            p = Process.Start(psi);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (-1, $"{file} not found");
        }

        using (p)
        {
            var stderr = p!.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout + stderr.Result);
        }
    }
}
