using System.Diagnostics;

namespace TierKv.Server.Tests;

/// <summary>Runs the built <c>tierkv</c> CLI in a child process.</summary>
internal static class CliProcess
{
    /// <summary>The built CLI next to this checkout (same configuration as the tests), or null.</summary>
    public static string? Find()
    {
        string config = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "src", "TierKv.Cli", "bin", config, "net10.0", "tierkv.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Runs <c>tierkv args</c> to its end (at most <paramref name="timeoutSeconds"/>); returns the exit code and both outputs.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string cli, IEnumerable<string> args, int timeoutSeconds = 60)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(cli);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"tierkv {string.Join(' ', args)} did not finish within {timeoutSeconds} s");
        }

        return (p.ExitCode, await stdout, await stderr);
    }
}
