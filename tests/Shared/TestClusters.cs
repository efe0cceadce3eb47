using System.Net.Sockets;
using TierKv.Remote;

namespace TierKv.Testing;

/// <summary>
/// Finds the clusters that <c>scripts/ci/services.sh start</c> runs: from the environment first, then from its env
/// file (<c>$TIERKV_CI_DIR/env</c>, default <c>/tmp/tierkv-ci/env</c>), since that script runs as its own process.
/// Outside CI a missing or unreachable cluster skips the test with a message saying how to get one; with
/// <c>CI=true</c> it fails.
/// </summary>
internal static class TestClusters
{
    public const string Redis = "redis";
    public const string Garnet = "garnet";

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static string EnvFile => Path.Combine(Environment.GetEnvironmentVariable("TIERKV_CI_DIR") ?? "/tmp/tierkv-ci", "env");

    /// <summary>A setting from the environment or the services env file.</summary>
    public static string? Setting(string name)
    {
        var v = Environment.GetEnvironmentVariable(name);
        if (!string.IsNullOrWhiteSpace(v))
        {
            return v;
        }

        if (File.Exists(EnvFile))
        {
            foreach (var line in File.ReadAllLines(EnvFile))
            {
                int eq = line.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && line.AsSpan(0, eq).SequenceEqual(name))
                {
                    return line[(eq + 1)..].Trim();
                }
            }
        }

        return null;
    }

    /// <summary>Endpoints of the shared cluster of <paramref name="kind"/>, or a skip (outside CI) / failure (in CI).</summary>
    public static IReadOnlyList<string> Require(string kind)
    {
        string name = kind == Redis ? "TIERKV_REDIS_CLUSTER" : "TIERKV_GARNET_CLUSTER";
        var value = Setting(name);
        if (value is null)
        {
            Unavailable($"{name} is not set and {EnvFile} does not name it: run `bash scripts/ci/services.sh start` to test against a {kind} cluster.");
        }

        var endpoints = RemoteTierOptions.FromEndpoints(value!).Endpoints;
        foreach (var e in endpoints)
        {
            if (!Reachable(e))
            {
                Unavailable($"{name}={value}: {e} does not accept connections; run `bash scripts/ci/services.sh start`.");
            }
        }

        return endpoints;
    }

    /// <summary>The server binary of <paramref name="kind"/> for private clusters, or a skip / failure.</summary>
    public static string RequireServer(string kind)
    {
        string? path = kind == Redis
            ? Setting("TIERKV_REDIS_SERVER") ?? FindOnPath("redis-server")
            : Setting("TIERKV_GARNET_SERVER") ?? "/opt/tierkv-tools/garnet-server";
        if (path is null || !File.Exists(path))
        {
            Unavailable($"no {kind} server binary ({path ?? "redis-server not on PATH"}): run `bash scripts/ci/install.sh`.");
        }

        if (FindOnPath("redis-cli") is null)
        {
            Unavailable("redis-cli is not on PATH (it creates clusters): run `bash scripts/ci/install.sh`.");
        }

        return path!;
    }

    public static bool Reachable(string endpoint)
    {
        RemoteTierOptions.TryParseEndpoint(endpoint, out var host, out int port);
        try
        {
            using var c = new TcpClient();
            return c.ConnectAsync(host.Trim('[', ']'), port).Wait(TimeSpan.FromSeconds(5)) && c.Connected;
        }
        catch (AggregateException)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static string? FindOnPath(string exe)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var p = Path.Combine(dir, exe);
            if (File.Exists(p))
            {
                return p;
            }
        }

        return null;
    }

    private static void Unavailable(string message)
    {
        if (InCi)
        {
            throw new InvalidOperationException("CI=true, so this test must run: " + message);
        }

        Skip.If(true, message);
    }
}
