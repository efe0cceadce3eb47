using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TierKv.Remote.Tests;

/// <summary>
/// A private Redis or Garnet cluster (or one standalone node) on free loopback ports, for tests that kill, stall or
/// restart nodes without disturbing the shared CI clusters. Disposing it ends every node it started.
/// </summary>
internal sealed partial class LocalCluster : IDisposable
{
    private const int SigKill = 9;
    private const int SigCont = 18;
    private const int SigStop = 19;

    private readonly string _kind;
    private readonly string _server;
    private readonly string _dir;
    private readonly string[] _extra;
    private readonly Process?[] _nodes;

    private LocalCluster(string kind, string server, int[] ports, string[] extra)
    {
        _kind = kind;
        _server = server;
        Ports = ports;
        _extra = extra;
        _dir = Directory.CreateTempSubdirectory($"tierkv-{kind}-").FullName;
        _nodes = new Process?[ports.Length];
    }

    public int[] Ports { get; }

    public IReadOnlyList<string> Endpoints => [.. Ports.Select(p => $"127.0.0.1:{p}")];

    /// <summary>Starts <paramref name="nodes"/> nodes; with <paramref name="cluster"/> joins them into a cluster.</summary>
    public static LocalCluster Start(string kind, int nodes = 3, bool cluster = true, params string[] extra)
    {
        var server = TestClusters.RequireServer(kind);
        var c = new LocalCluster(kind, server, FreePorts(nodes), extra);
        try
        {
            for (int i = 0; i < nodes; i++)
            {
                c.StartNode(i, cluster);
            }

            foreach (var p in c.Ports)
            {
                WaitFor(() => Cli(p, "ping").Contains("PONG", StringComparison.Ordinal), $"{kind} node on port {p} to answer");
            }

            if (cluster)
            {
                var create = RunCli(["--cluster", "create", .. c.Endpoints, "--cluster-yes"]);
                if (!create.Contains("All 16384 slots covered", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"cluster create failed: {create}");
                }

                c.WaitHealthy();
            }

            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    /// <summary>Waits until every running node says the cluster is ok.</summary>
    public void WaitHealthy()
    {
        foreach (var p in Ports)
        {
            WaitFor(() => Cli(p, "cluster", "info").Contains("cluster_state:ok", StringComparison.Ordinal), $"{_kind} cluster state ok on {p}");
        }
    }

    /// <summary>SIGKILL: the node dies with its connections.</summary>
    public void Kill(int node)
    {
        Signal(node, SigKill);
        _nodes[node]!.WaitForExit();
    }

    /// <summary>SIGSTOP: the node keeps its connections open but answers nothing.</summary>
    public void Stall(int node) => Signal(node, SigStop);

    /// <summary>SIGCONT after <see cref="Stall"/>.</summary>
    public void Resume(int node) => Signal(node, SigCont);

    /// <summary>Starts a killed node again on the same port and folder (a Redis node rejoins with its nodes.conf).</summary>
    public void Restart(int node)
    {
        StartNode(node, cluster: true);
        WaitFor(() => Cli(Ports[node], "ping").Contains("PONG", StringComparison.Ordinal), $"restarted node on {Ports[node]}");
    }

    /// <summary>Runs redis-cli against node <paramref name="port"/> (a plain client, not TierKV).</summary>
    public static string Cli(int port, params string[] args) => RunCli(["-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args]);

    public void Dispose()
    {
        for (int i = 0; i < _nodes.Length; i++)
        {
            var p = _nodes[i];
            if (p is { HasExited: false })
            {
                _ = kill(p.Id, SigCont);
                p.Kill();
                p.WaitForExit();
            }

            p?.Dispose();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A node's file still open while it exits: the temp folder is left to the OS.
        }
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            Thread.Sleep(50);
        }
    }

    private static string RunCli(string[] args)
    {
        var psi = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output + err.Result;
    }

    private static int[] FreePorts(int count)
    {
        // Cluster nodes also listen on port + 10000 (the cluster bus), so both must be free.
        var rng = new Random(Environment.ProcessId ^ Environment.TickCount);
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int start = rng.Next(20000, 29000);
            var ports = Enumerable.Range(start, count).ToArray();
            if (ports.All(p => IsFree(p) && IsFree(p + 10000)))
            {
                return ports;
            }
        }

        throw new InvalidOperationException("No free loopback ports in 20000-39000.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            l.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    private void Signal(int node, int sig)
    {
        var p = _nodes[node] ?? throw new InvalidOperationException($"node {node} was never started");
        if (kill(p.Id, sig) != 0)
        {
            throw new InvalidOperationException($"kill({p.Id}, {sig}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private void StartNode(int i, bool cluster)
    {
        int port = Ports[i];
        string dir = Path.Combine(_dir, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        var args = new List<string>();
        if (_kind == TestClusters.Redis)
        {
            args.AddRange(["--port", $"{port}", "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--logfile", Path.Combine(dir, "log")]);
            if (cluster)
            {
                args.AddRange(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-require-full-coverage", "no", "--cluster-node-timeout", "1000"]);
            }
        }
        else
        {
            args.AddRange(["--port", $"{port}", "--bind", "127.0.0.1", "--device-type", "RandomAccess", "--memory", "128m", "--page", "4m", "--index", "8m", "--no-obj", "-q", "--checkpointdir", Path.Combine(dir, "cp")]);
            if (cluster)
            {
                args.Add("--cluster");
            }
        }

        args.AddRange(_extra);

        // exec through a shell so output goes to a file (no pipe to drain) and the pid is the server's own.
        var psi = new ProcessStartInfo("/bin/sh") { WorkingDirectory = dir };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec \"$0\" \"$@\" >>out.log 2>&1 </dev/null");
        psi.ArgumentList.Add(_server);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        _nodes[i]?.Dispose();
        _nodes[i] = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {_server}");
    }
}
