using System.Diagnostics;
using System.Globalization;
using System.Text;
using TierKv.Server.Client;
using Xunit.Abstractions;

namespace TierKv.Server.Tests;

/// <summary>
/// Opt-in measurement (TIERKV_CLIENT_BENCH=1), no timing asserts: the asynchronous client's SET/GET throughput and
/// small-GET rate against the synchronous client's, in the same run against the same in-process server.
/// <c>TIERKV_CLIENT_BENCH=1 dotnet test tests/TierKv.Server.Tests -c Release --filter FullyQualifiedName~ClientThroughput --logger "console;verbosity=detailed"</c>
/// </summary>
[Collection(nameof(AllocationTests))]
public class ClientThroughputTests(ITestOutputHelper output)
{
    private const int ValueBytes = 4 << 20;
    private const int Clients = 8;
    private const int ValuesPerClient = 12;
    private const int Reps = 5;
    private const int SmallGets = 4000;

    [SkippableFact]
    public async Task Async_and_sync_clients_throughput_in_the_same_run()
    {
        Skip.If(Environment.GetEnvironmentVariable("TIERKV_CLIENT_BENCH") != "1", "opt-in measurement: set TIERKV_CLIENT_BENCH=1");
        await using var s = TestServer.Start(new ServerOptions { DramBytes = 512L << 20, SlotBytes = ValueBytes + 4096 });
        var value = new byte[ValueBytes];
        new Random(5).NextBytes(value);
        var names = new byte[Clients][][];
        for (int c = 0; c < Clients; c++)
        {
            names[c] = new byte[ValuesPerClient][];
            for (int i = 0; i < ValuesPerClient; i++)
            {
                names[c][i] = Encoding.ASCII.GetBytes($"bench-{c}-{i}");
            }
        }

        var results = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        void Add(string k, double v) => (results.TryGetValue(k, out var l) ? l : results[k] = []).Add(v);
        for (int rep = 0; rep < Reps; rep++)
        {
            // Alternate which client goes first so neither always meets a warmer server.
            for (int turn = 0; turn < 2; turn++)
            {
                if ((rep + turn) % 2 == 0)
                {
                    var (set, get, ops) = RunSync(s.Port, names, value);
                    Add("sync_set_gbs", set);
                    Add("sync_get_gbs", get);
                    Add("sync_get4k_ops_per_s", ops);
                }
                else
                {
                    // On the thread pool: under xunit's synchronization context every await of the test would post back to it,
                    // a hop that a real application (ASP.NET Core, a console host) does not pay.
                    var (set, get, ops) = await Task.Run(() => RunAsync(s.Port, names, value));
                    Add("async_set_gbs", set);
                    Add("async_get_gbs", get);
                    Add("async_get4k_ops_per_s", ops);
                }
            }
        }

        var line = new StringBuilder($"{Clients} clients x {ValuesPerClient} values of {ValueBytes >> 20} MiB, medians of {Reps}:");
        foreach (var (k, v) in results.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            line.Append(CultureInfo.InvariantCulture, $" {k}={Median(v):0.###}");
        }

        line.Append(CultureInfo.InvariantCulture, $" | async/sync: set {Median(results["async_set_gbs"]) / Median(results["sync_set_gbs"]):0.00}x get {Median(results["async_get_gbs"]) / Median(results["sync_get_gbs"]):0.00}x get4k {Median(results["async_get4k_ops_per_s"]) / Median(results["sync_get4k_ops_per_s"]):0.00}x");
        output.WriteLine(line.ToString());
    }

    private static (double SetGbs, double GetGbs, double Get4kOps) RunSync(int port, byte[][][] names, byte[] value)
    {
        var clients = new TierKvClient[Clients];
        for (int c = 0; c < Clients; c++)
        {
            clients[c] = TierKvClient.Connect("127.0.0.1", port);
        }

        try
        {
            double set = Timed(() => Parallel(c => { foreach (var n in names[c]) { clients[c].Set(n, value); } }));
            double get = Timed(() => Parallel(c =>
            {
                var dest = new byte[ValueBytes];
                foreach (var n in names[c])
                {
                    clients[c].Get(n, dest);
                }
            }));
            var small = new byte[4096];
            clients[0].Set("bench-small"u8, small);
            double t = Timed(() =>
            {
                for (int i = 0; i < SmallGets; i++)
                {
                    clients[0].Get("bench-small"u8, small);
                }
            });
            return (Gbs(set), Gbs(get), SmallGets / t);
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }
        }
    }

    private static async Task<(double SetGbs, double GetGbs, double Get4kOps)> RunAsync(int port, byte[][][] names, byte[] value)
    {
        var clients = new TierKvAsyncClient[Clients];
        for (int c = 0; c < Clients; c++)
        {
            clients[c] = await TierKvAsyncClient.ConnectAsync("127.0.0.1", port);
        }

        try
        {
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(async c =>
            {
                foreach (var n in names[c])
                {
                    await clients[c].SetAsync(n, value);
                }
            }));
            double set = sw.Elapsed.TotalSeconds;
            sw.Restart();
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(async c =>
            {
                var dest = new byte[ValueBytes];
                foreach (var n in names[c])
                {
                    await clients[c].GetAsync(n, dest);
                }
            }));
            double get = sw.Elapsed.TotalSeconds;
            var small = new byte[4096];
            var name = Encoding.ASCII.GetBytes("bench-small");
            await clients[0].SetAsync(name, small);
            sw.Restart();
            for (int i = 0; i < SmallGets; i++)
            {
                await clients[0].GetAsync(name, small);
            }

            return (Gbs(set), Gbs(get), SmallGets / sw.Elapsed.TotalSeconds);
        }
        finally
        {
            foreach (var c in clients)
            {
                await c.DisposeAsync();
            }
        }
    }

    private static void Parallel(Action<int> perClient)
    {
        var threads = new Thread[Clients];
        for (int c = 0; c < Clients; c++)
        {
            int id = c;
            threads[c] = new Thread(() => perClient(id));
            threads[c].Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }
    }

    private static double Timed(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalSeconds;
    }

    private static double Gbs(double seconds) => (double)Clients * ValuesPerClient * ValueBytes / seconds / 1e9;

    private static double Median(List<double> v)
    {
        var a = v.Order().ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[(a.Length / 2) - 1] + a[a.Length / 2]) / 2;
    }
}
