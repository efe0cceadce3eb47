using System.Diagnostics;
using System.Text;
using TierKv.Remote;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

/// <summary>
/// <c>tierkv serve --remote</c>: the cluster tier under a daemon's DRAM (and SSD). Two daemons share the Redis and the
/// Garnet cluster that <c>scripts/ci/services.sh</c> starts; each test uses its own key prefix.
/// </summary>
public sealed class RemoteTierServerTests
{
    public static TheoryData<string> Clusters => new() { TestClusters.Redis, TestClusters.Garnet };

    [SkippableTheory]
    [MemberData(nameof(Clusters))]
    public async Task A_value_set_on_one_node_is_read_by_another_through_the_cluster(string cluster)
    {
        await using var nodes = TwoNodes.Start(cluster);
        var (ca, cb) = (nodes.A, nodes.B);
        var value = Bytes(300_000, seed: 1);
        ca.Set("doc:1"u8, value);

        Assert.Equal(value, Get(cb, "doc:1"));
        Assert.Equal(1, Exists(cb, "doc:1"));
        Assert.Equal(0, Exists(cb, "doc:never-set"));
        Assert.Null(Get(cb, "doc:never-set"));
    }

    [SkippableTheory]
    [MemberData(nameof(Clusters))]
    public async Task An_overwrite_replaces_the_clusters_copy_and_a_delete_removes_it(string cluster)
    {
        await using var nodes = TwoNodes.Start(cluster);
        var (ca, cb) = (nodes.A, nodes.B);

        // Sizes alternate between the small-value class and the chunk class, whose copies live under separate keys.
        for (int v = 0; v < 4; v++)
        {
            ca.Set("conf"u8, Bytes(v % 2 == 0 ? 5_000 : 1_000, seed: 10 + v));
            Assert.Equal(Bytes(v % 2 == 0 ? 5_000 : 1_000, seed: 10 + v), Get(cb, "conf"));
        }

        Assert.Equal(1, Del(ca, "conf"));
        Assert.Null(Get(cb, "conf"));
        Assert.Equal(0, Exists(cb, "conf"));
    }

    [SkippableFact]
    public async Task A_value_evicted_from_DRAM_comes_back_from_the_cluster()
    {
        var options = Options(TestClusters.Require(TestClusters.Redis)) with { DramBytes = 4L << 20, SlotBytes = 256 << 10 };
        await using var a = TestServer.Start(options);
        using var c = a.Client();
        var values = Enumerable.Range(0, 40).Select(i => Bytes(200_000, seed: 100 + i)).ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            c.Set(Encoding.UTF8.GetBytes($"chunk:{i}"), values[i]);
        }

        // 40 values of 256 KiB records do not fit 4 MiB of DRAM: the first ones are read back from the cluster.
        Assert.True(long.Parse(c.Stats()["tier.dram.chunks"], System.Globalization.CultureInfo.InvariantCulture) < values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i], Get(c, $"chunk:{i}"));
        }
    }

    [Fact]
    public async Task A_dead_cluster_is_a_miss_never_a_failed_command()
    {
        // A port nothing listens on: connecting fails at start, every call to the cluster is a miss.
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var options = Options([$"127.0.0.1:{port}"]);
        await using var a = TestServer.Start(options);
        using var c = a.Client();
        var t0 = Stopwatch.GetTimestamp();
        c.Set("k"u8, Bytes(1000, seed: 3));
        Assert.Equal(Bytes(1000, seed: 3), Get(c, "k"));
        Assert.Null(Get(c, "missing"));
        Assert.Equal(1, Exists(c, "k"));
        Assert.Equal(0, Exists(c, "missing"));
        Assert.Equal(1, Del(c, "k"));

        // Bounded by the tier's budgets (connect 2 s at start is not in here), not by a client timeout.
        Assert.True(Stopwatch.GetElapsedTime(t0) < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Bad_remote_settings_are_refused_naming_the_setting()
    {
        var e = Assert.Throws<ArgumentException>(() => Options(["no-port-here"]).Validate());
        Assert.Contains("Server:Remote:Endpoints", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Two daemons that share only <paramref name="cluster"/> (under a key prefix of their own), a client on each.</summary>
    private sealed class TwoNodes : IAsyncDisposable
    {
        private readonly TestServer _a;
        private readonly TestServer _b;

        private TwoNodes(ServerOptions options)
        {
            _a = TestServer.Start(options);
            _b = TestServer.Start(options);
            A = _a.Client();
            B = _b.Client();
        }

        public TierKvClient A { get; }

        public TierKvClient B { get; }

        public static TwoNodes Start(string cluster) => new(Options(TestClusters.Require(cluster)));

        public async ValueTask DisposeAsync()
        {
            A.Dispose();
            B.Dispose();
            await _a.DisposeAsync();
            await _b.DisposeAsync();
        }
    }

    private static byte[]? Get(TierKvClient c, string name)
    {
        var buf = new byte[1 << 20];
        int n = c.Get(Encoding.UTF8.GetBytes(name), buf);
        return n < 0 ? null : buf[..n];
    }

    private static long Exists(TierKvClient c, string name) => (long)c.Execute("EXISTS", name)!;

    private static long Del(TierKvClient c, string name) => (long)c.Execute("DEL", name)!;

    private static ServerOptions Options(IReadOnlyList<string> endpoints) => new()
    {
        Remote = new RemoteTierOptions { Endpoints = endpoints, KeyPrefix = "t" + Guid.NewGuid().ToString("N")[..12] },
    };

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }
}
