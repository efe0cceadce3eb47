using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

/// <summary><c>tierkv serve</c> in a child process on a free loopback port (DRAM only); killed on dispose.</summary>
internal sealed class ServeProcess : IDisposable
{
    private ServeProcess(Process process, int port)
    {
        Process = process;
        Port = port;
    }

    public Process Process { get; }

    public int Port { get; }

    /// <summary>Starts the server and waits until it answers PING (at most 60 s).</summary>
    public static Task<ServeProcess> StartAsync(string cli) => StartAsync(cli, FreePort());

    /// <summary>
    /// Starts the server on <paramref name="port"/> (a restart can reuse the port of a killed one) with
    /// <paramref name="extraArgs"/> after the defaults (e.g. <c>--data DIR --ssd 32m</c>) and waits until it answers PING.
    /// </summary>
    public static async Task<ServeProcess> StartAsync(string cli, int port, params string[] extraArgs)
    {
        var serve = Spawn(cli, port, extraArgs);
        var p = serve.Process;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(p.HasExited, $"tierkv serve exited with code {(p.HasExited ? p.ExitCode : 0)}");
            try
            {
                await using var c = await TierKvAsyncClient.ConnectAsync("127.0.0.1", port);
                await c.PingAsync();
                return serve;
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                if (deadline.Elapsed.TotalSeconds > 60)
                {
                    serve.Dispose();
                    throw new TimeoutException("tierkv serve did not answer within 60 s");
                }

                // Polling for the port to open: there is no event to wait on across processes.
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Starts the server without waiting for it (to kill it while it opens its tiers).</summary>
    public static ServeProcess Spawn(string cli, int port, params string[] extraArgs)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { cli, "serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--metrics-port", "-1", "--dram", "64m", "--slot-bytes", "1m" }.Concat(extraArgs))
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new ServeProcess(p, port);
    }

    /// <summary>Sends a signal (<c>STOP</c>, <c>CONT</c>, ...) with kill(1).</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, Process.Id.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>kill -9, and wait for the process to be gone.</summary>
    public void Kill()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
            Assert.True(Process.WaitForExit(10_000), "tierkv serve did not exit after kill -9");
        }
    }

    public void Dispose()
    {
        Kill();
        Process.Dispose();
    }

    /// <summary>A loopback port no one listens on now.</summary>
    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
