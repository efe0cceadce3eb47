using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TierKv.Server.Client;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv bench server</c>: starts <c>tierkv serve</c> and Debian's <c>redis-server</c> on free loopback ports,
/// drives both with the same client code (<see cref="TierKvClient"/>'s plain SET/GET), the same number of client
/// threads and the same chunk-sized values, alternating which server goes first in each repetition, and reports the
/// medians; then the round-trip latency of <c>KV.LOOKUP</c> on the daemon. Both servers are stopped afterwards.
/// </summary>
internal sealed partial class BenchServerCommand : Command<BenchServerCommand.Settings>
{
    public sealed class Settings : JsonSettings
    {
        [CommandOption("--concurrency")]
        [Description("Client connections (one thread each), the same for both servers.")]
        [DefaultValue(8)]
        public int Concurrency { get; init; } = 8;

        [CommandOption("--value-bytes")]
        [Description("Bytes per value (a chunk), e.g. 4m. Default: 4m; with --workload lmcache 32m, LMCache's 256-token chunk of Llama-3-8B.")]
        public string? ValueBytesOption { get; init; }

        [CommandOption("--ops")]
        [Description("SETs then GETs per client per repetition (chunks per client with --workload lmcache). Default: 16; with --workload lmcache 4.")]
        public int? OpsOption { get; init; }

        /// <summary>The value size in effect (the workload's default unless given).</summary>
        public string ValueBytes => ValueBytesOption ?? (Workload == "lmcache" ? "32m" : "4m");

        /// <summary>Operations per client in effect.</summary>
        public int Ops => OpsOption ?? (Workload == "lmcache" ? 4 : 16);

        [CommandOption("--reps")]
        [Description("Repetitions; medians are reported.")]
        [DefaultValue(5)]
        public int Reps { get; init; } = 5;

        [CommandOption("--lookup-keys")]
        [Description("Chunk keys per KV.LOOKUP (all held by the server).")]
        [DefaultValue(64)]
        public int LookupKeys { get; init; } = 64;

        [CommandOption("--lookups")]
        [Description("Timed lookups (in --reps batches; p50 and p99 are the medians of the batches').")]
        [DefaultValue(5000)]
        public int Lookups { get; init; } = 5000;

        [CommandOption("--workload")]
        [Description("plain: SET then GET of each value; lmcache: LMCache's v1 pattern (SET <key>kv_bytes + SET <key>metadata pipelined, then EXISTS of the batch's metadata keys, then GET metadata + GET kv_bytes per chunk).")]
        [DefaultValue("plain")]
        public string Workload { get; init; } = "plain";

        [CommandOption("--redis-server")]
        [Description("The redis-server executable.")]
        [DefaultValue("redis-server")]
        public string RedisServer { get; init; } = "redis-server";

        public override ValidationResult Validate()
        {
            var failure = SettingsRules.FirstFailure(
                (Concurrency is < 1 or > 256, "--concurrency must be in [1, 256]."),
                (Ops is < 1 or > 100000 || Reps is < 1 or > 100, "--ops must be in [1, 100000] and --reps in [1, 100]."),
                (LookupKeys is < 1 or > 4096 || Lookups < 100, "--lookup-keys must be in [1, 4096] and --lookups at least 100."),
                (Workload is not ("plain" or "lmcache"), "--workload must be plain or lmcache."));
            var size = failure ?? ByteSizes.Validate(ValueBytes, "--value-bytes", inMemory: true, max: int.MaxValue);
            return !size.Successful ? size
                : ByteSizes.FitsMemory(DramBytes((int)ByteSizes.Parse(ValueBytes, "--value-bytes")), $"--value-bytes {ValueBytes} for each of --concurrency {Concurrency} x --ops {Ops} values");
        }

        /// <summary>The DRAM tier of the tierkv server under test: every value of every client, the lookup keys, and room to spare.</summary>
        internal long DramBytes(int valueBytes) => (long)valueBytes * ((Concurrency * Ops) + LookupKeys + 8);
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        int valueBytes = (int)ByteSizes.Parse(settings.ValueBytes, "--value-bytes");
        int c = settings.Concurrency;
        bool lmcache = settings.Workload == "lmcache";
        var log = settings.ProgressConsole();
        int tierPort = FreePort();
        int redisPort = FreePort();
        long dram = settings.DramBytes(valueBytes);
        log?.MarkupLine(lmcache
            ? $"[grey]bench server --workload lmcache: {c} clients, chunks of {valueBytes} bytes + {MetadataBytes}-byte metadata, {settings.Ops} chunks per client, {settings.Reps} repetitions; tierkv on :{tierPort}, redis-server on :{redisPort}[/]"
            : $"[grey]bench server: {c} clients, values of {valueBytes} bytes, {settings.Ops} SET+GET per client, {settings.Reps} repetitions; tierkv on :{tierPort}, redis-server on :{redisPort}[/]");

        using var tier = StartTierKv(tierPort, dram, valueBytes);
        using var redis = StartRedis(settings.RedisServer, redisPort);
        try
        {
            WaitForPing(tierPort, tier, "tierkv serve");
            WaitForPing(redisPort, redis, "redis-server");
            string redisVersion = RedisVersion(redisPort);
            var value = GC.AllocateUninitializedArray<byte>(valueBytes, pinned: true);
            new Random(7).NextBytes(value);
            return lmcache
                ? ReportLmcache(settings, tierPort, redisPort, redisVersion, value, log)
                : ReportPlain(settings, tierPort, redisPort, redisVersion, value, log);
        }
        finally
        {
            Stop(tier);
            Stop(redis);
        }
    }

    /// <summary>The plain workload: SET and GET throughput against redis-server, and KV.LOOKUP latency.</summary>
    private static int ReportPlain(Settings settings, int tierPort, int redisPort, string redisVersion, byte[] value, Spectre.Console.IAnsiConsole? log)
    {
        int c = settings.Concurrency;
        int valueBytes = value.Length;
        var (tierSet, tierGet, redisSet, redisGet) = Alternate(settings.Reps, tierPort, redisPort, (port, r) => Measure(port, c, settings.Ops, value, r), log);

        // Lookups in --reps batches: the p50/p99 reported are the medians of the batches' (as for throughput), so one
        // burst of load from elsewhere on the machine does not decide the figure; the p99 over all samples is
        // reported too.
        var lat = MeasureLookups(tierPort, settings.LookupKeys, settings.Lookups);
        var (p50s, p99s) = Batches(lat, settings.Reps);

        // The machine's own round-trip floor in the same run: PING against redis-server with the same client.
        var ping = MeasurePings(redisPort, settings.Lookups);
        var (ping50s, ping99s) = Batches(ping, settings.Reps);

        var report = new CommandReport(new JsonObject
        {
            ["bench"] = "server",
            ["concurrency"] = c,
            ["value_bytes"] = valueBytes,
            ["ops_per_client"] = settings.Ops,
            ["reps"] = settings.Reps,
            ["redis_version"] = redisVersion,
            ["lookup_keys"] = settings.LookupKeys,
            ["lookups"] = settings.Lookups,
            ["lookup_p50_us"] = JsonOutput.Round(Stats.Median(p50s), 1),
            ["lookup_p99_us"] = JsonOutput.Round(Stats.Median(p99s), 1),
            ["lookup_p99_all_us"] = JsonOutput.Round(Stats.Percentile(lat, 0.99), 1),
            ["lookup_max_us"] = JsonOutput.Round(Stats.Percentile(lat, 1.0), 1),
            ["redis_ping_p50_us"] = JsonOutput.Round(Stats.Median(ping50s), 1),
            ["redis_ping_p99_us"] = JsonOutput.Round(Stats.Median(ping99s), 1),
        }
        .Versus("tierkv_get_gbs", tierGet, "redis_get_gbs", redisGet, "get_vs_redis")
        .Versus("tierkv_set_gbs", tierSet, "redis_set_gbs", redisSet, "set_vs_redis"));
        return report.Table("measure", "tierkv serve", $"redis-server {redisVersion}", "ratio")
            .Row("GET", $"{report["tierkv_get_gbs"]} GB/s", $"{report["redis_get_gbs"]} GB/s", $"{report["get_vs_redis"]} (target >= 1.5)")
            .Row("SET", $"{report["tierkv_set_gbs"]} GB/s", $"{report["redis_set_gbs"]} GB/s", $"{report["set_vs_redis"]} (target >= 1)")
            .Row($"KV.LOOKUP of {settings.LookupKeys} keys", $"p50 {report["lookup_p50_us"]} us, p99 {report["lookup_p99_us"]} us", $"PING p50 {report["redis_ping_p50_us"]} us, p99 {report["redis_ping_p99_us"]} us", "target p99 <= 100 us")
            .Write(settings.Json);
    }

    /// <summary>
    /// <paramref name="reps"/> repetitions of <paramref name="measure"/> (port, repetition) on both servers, alternating
    /// which goes first so neither always meets the machine warmer; the GB/s of each phase per server.
    /// </summary>
    private static (List<double> TierSet, List<double> TierGet, List<double> RedisSet, List<double> RedisGet) Alternate(
        int reps, int tierPort, int redisPort, Func<int, int, (double Set, double Get)> measure, Spectre.Console.IAnsiConsole? log)
    {
        var tierSet = new List<double>();
        var tierGet = new List<double>();
        var redisSet = new List<double>();
        var redisGet = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            foreach (bool isTier in r % 2 == 0 ? new[] { true, false } : [false, true])
            {
                var (set, get) = measure(isTier ? tierPort : redisPort, r);
                (isTier ? tierSet : redisSet).Add(set);
                (isTier ? tierGet : redisGet).Add(get);
                log?.MarkupLine($"[grey]  rep {r + 1} {(isTier ? "tierkv" : "redis ")}: SET {set:0.00} GB/s, GET {get:0.00} GB/s[/]");
            }
        }

        return (tierSet, tierGet, redisSet, redisGet);
    }

    /// <summary>SET then GET of <paramref name="ops"/> values per client on <paramref name="clients"/> threads; GB/s of each phase. Keys are deleted afterwards.</summary>
    private static (double Set, double Get) Measure(int port, int clients, int ops, byte[] value, int rep)
    {
        var conns = new TierKvClient[clients];
        for (int i = 0; i < clients; i++)
        {
            conns[i] = TierKvClient.Connect("127.0.0.1", port);
        }

        try
        {
            var names = new byte[clients][][];
            for (int i = 0; i < clients; i++)
            {
                names[i] = new byte[ops][];
                for (int k = 0; k < ops; k++)
                {
                    names[i][k] = Encoding.ASCII.GetBytes($"bench:{rep}:{i}:{k}");
                }
            }

            double set = Phase(clients, i =>
            {
                for (int k = 0; k < ops; k++)
                {
                    conns[i].Set(names[i][k], value);
                }
            });
            var dests = new byte[clients][];
            for (int i = 0; i < clients; i++)
            {
                dests[i] = GC.AllocateUninitializedArray<byte>(value.Length, pinned: true);
            }

            double get = Phase(clients, i =>
            {
                for (int k = 0; k < ops; k++)
                {
                    int n = conns[i].Get(names[i][k], dests[i]);
                    if (n != value.Length)
                    {
                        throw new InvalidOperationException($"GET {Encoding.ASCII.GetString(names[i][k])} on port {port} returned {n} bytes, not {value.Length}.");
                    }
                }
            });
            foreach (var d in dests)
            {
                if (!d.AsSpan().SequenceEqual(value))
                {
                    throw new InvalidOperationException($"A value read back from port {port} differs from the one written.");
                }
            }

            for (int i = 0; i < clients; i++)
            {
                var args = new string[ops + 1];
                args[0] = "DEL";
                for (int k = 0; k < ops; k++)
                {
                    args[k + 1] = Encoding.ASCII.GetString(names[i][k]);
                }

                conns[0].Execute(args);
            }

            double bytes = (double)clients * ops * value.Length;
            return (bytes / set / 1e9, bytes / get / 1e9);
        }
        finally
        {
            foreach (var conn in conns)
            {
                conn.Dispose();
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> on one thread per client, released together; returns the seconds until the last one finished.</summary>
    private static double Phase(int clients, Action<int> work)
    {
        using var start = new Barrier(clients + 1);
        var threads = new Thread[clients];
        Exception? failure = null;
        for (int i = 0; i < clients; i++)
        {
            int id = i;
            threads[i] = new Thread(() =>
            {
                start.SignalAndWait();
                try
                {
                    work(id);
                }
                catch (Exception ex)
                {
                    failure ??= ex;
                }
            })
            { IsBackground = true };
            threads[i].Start();
        }

        start.SignalAndWait();
        long t0 = Stopwatch.GetTimestamp();
        foreach (var t in threads)
        {
            t.Join();
        }

        double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        if (failure is not null)
        {
            throw new InvalidOperationException($"A benchmark client failed: {failure.Message}", failure);
        }

        return s;
    }

    private static List<double> MeasureLookups(int port, int keys, int lookups)
    {
        using var client = TierKvClient.Connect("127.0.0.1", port);
        var layout = ModelShapes.Llama3_8B.Layout;
        var tokens = new int[keys * layout.TokensPerChunk];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = (int)((i * 2654435761u) % 128256);
        }

        var chunkKeys = PrefixHasher.ComputeKeys(layout, TenantSalt.None, tokens);
        var small = new byte[4096];
        for (int i = 0; i < chunkKeys.Length; i++)
        {
            client.Put(chunkKeys[i], small, i > 0 ? chunkKeys[i - 1] : null);
        }

        // Warm up by time, not count: the daemon runs for days, so the figure is about its steady state, after
        // tiered JIT has promoted the lookup path to optimized code (that takes a second or so of calls).
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 2500)
        {
            client.Lookup(chunkKeys);
        }

        var lat = new List<double>(lookups);
        for (int i = 0; i < lookups; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            int hit = client.Lookup(chunkKeys);
            lat.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
            if (hit != keys)
            {
                throw new InvalidOperationException($"KV.LOOKUP found {hit} of {keys} chunks.");
            }
        }

        client.Delete(chunkKeys);
        return lat;
    }

    private static (List<double> P50s, List<double> P99s) Batches(List<double> samples, int batches)
    {
        int batch = Math.Max(1, samples.Count / batches);
        var p50s = new List<double>();
        var p99s = new List<double>();
        for (int b = 0; b + batch <= samples.Count; b += batch)
        {
            var part = samples.GetRange(b, batch);
            p50s.Add(Stats.Percentile(part, 0.50));
            p99s.Add(Stats.Percentile(part, 0.99));
        }

        return (p50s, p99s);
    }

    private static List<double> MeasurePings(int port, int count)
    {
        using var client = TierKvClient.Connect("127.0.0.1", port);
        for (int i = 0; i < 500; i++)
        {
            client.Ping();
        }

        var lat = new List<double>(count);
        for (int i = 0; i < count; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            client.Ping();
            lat.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
        }

        return lat;
    }

    private static Process StartTierKv(int port, long dramBytes, int slotBytes)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find this program's path to start tierkv serve.");
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            psi.ArgumentList.Add(typeof(BenchServerCommand).Assembly.Location);
        }

        foreach (var a in new[] { "serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--metrics-port", "-1", "--dram", dramBytes.ToString(CultureInfo.InvariantCulture), "--slot-bytes", slotBytes.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        return StartDrained(psi, "tierkv serve");
    }

    private static Process StartRedis(string exe, int port)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning" })
        {
            psi.ArgumentList.Add(a);
        }

        return StartDrained(psi, "redis-server (apt-get install redis-server)");
    }

    private static Process StartDrained(ProcessStartInfo psi, string what)
    {
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {what}.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Could not start {what}: {ex.Message}", ex);
        }

        // Drain its output so it never blocks on a full pipe; keep it off our stdout (JSON only there).
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"[{what}] {e.Data}");
            }
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void WaitForPing(int port, Process process, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited with code {process.ExitCode} before answering PING.");
            }

            try
            {
                using var c = TierKvClient.Connect("127.0.0.1", port);
                c.Ping();
                return;
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new InvalidOperationException($"{what} did not answer PING on port {port} within 60 s.");
                }

                Thread.Sleep(100);
            }
        }
    }

    private static string RedisVersion(int port)
    {
        using var c = TierKvClient.Connect("127.0.0.1", port);
        var info = c.Execute("INFO", "server") as string ?? "";
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith("redis_version:", StringComparison.Ordinal))
            {
                return line["redis_version:".Length..].Trim();
            }
        }

        return "?";
    }

    private static void Stop(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(10000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
