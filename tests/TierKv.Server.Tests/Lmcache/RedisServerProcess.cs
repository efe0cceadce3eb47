using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using TierKv.Server.Client;

namespace TierKv.Server.Tests.Lmcache;

/// <summary>
/// A <c>redis-server</c> child on a free loopback port (no persistence), the reference the compatibility suite compares
/// against; with <c>cluster</c>, a one-node Redis Cluster that owns all 16384 slots. Killed on dispose.
/// </summary>
internal sealed class RedisServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private RedisServerProcess(Process process, int port, string dir)
    {
        _process = process;
        Port = port;
        _dir = dir;
    }

    public int Port { get; }

    /// <summary>redis-server on PATH, or null.</summary>
    public static string? Find() => Which("redis-server");

    /// <summary>A python3 that has redis-py (Debian's python3-redis), or null.</summary>
    public static string? FindPythonWithRedis()
    {
        foreach (var python in new[] { "/usr/bin/python3", Which("python3") })
        {
            if (python is null || !File.Exists(python))
            {
                continue;
            }

            var psi = new ProcessStartInfo(python, ["-c", "import redis"]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            p.WaitForExit(30_000);
            if (p.ExitCode == 0)
            {
                return python;
            }
        }

        return null;
    }

    public static string? Which(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Where(d => d.Length > 0).Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);

    public static async Task<RedisServerProcess> StartAsync(string exe, bool cluster = false, params string[] extra)
    {
        int port = ServeProcess.FreePort();
        string dir = Path.Combine(Path.GetTempPath(), "tierkv-redis-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir };
        foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir })
        {
            psi.ArgumentList.Add(a);
        }

        if (cluster)
        {
            foreach (var a in new[] { "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(dir, "nodes.conf") })
            {
                psi.ArgumentList.Add(a);
            }
        }

        foreach (var a in extra)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServerProcess(process, port, dir);
        try
        {
            await server.WaitAsync(cluster);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private async Task WaitAsync(bool cluster)
    {
        var clock = Stopwatch.StartNew();
        bool slotsAdded = false;
        while (true)
        {
            Assert.False(_process.HasExited, $"redis-server exited with code {(_process.HasExited ? _process.ExitCode : 0)}");
            try
            {
                await using var c = await TierKvAsyncClient.ConnectAsync("127.0.0.1", Port);
                await c.PingAsync();
                if (!cluster)
                {
                    return;
                }

                if (!slotsAdded)
                {
                    await c.ExecuteAsync(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
                    slotsAdded = true;
                }

                if (((string?)await c.ExecuteAsync(["CLUSTER", "INFO"]) ?? "").Contains("cluster_state:ok", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
            }

            if (clock.Elapsed.TotalSeconds > 30)
            {
                throw new TimeoutException("redis-server did not come up within 30 s");
            }

            // Polling a child process's port and cluster state: there is no event to wait on across processes.
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
