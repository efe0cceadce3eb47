using System.Buffers.Binary;
using System.Text;
using TierKv.Server.Client;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv bench server --workload lmcache</c>: LMCache's v1 remote-backend pattern (lmcache/v1/storage_backend/
/// connector/redis_connector.py) against tierkv serve and redis-server in the same run, with the same client code.
/// A store is SET <c>key+"kv_bytes"</c> (the chunk) then SET <c>key+"metadata"</c> (28 bytes), pipelined; a retrieve
/// is the batch's existence check (EXISTS of each metadata key, pipelined), then per chunk GET metadata and GET
/// kv_bytes, pipelined. GB/s count the chunk bytes.
/// </summary>
internal sealed partial class BenchServerCommand
{
    private const int MetadataBytes = 28;

    /// <summary>LMCache's pattern: chunk stores and retrieves against redis-server, GB/s of the chunk bytes.</summary>
    private static int ReportLmcache(Settings settings, int tierPort, int redisPort, string redisVersion, byte[] value, Spectre.Console.IAnsiConsole? log)
    {
        int c = settings.Concurrency;
        int valueBytes = value.Length;
        var (tierSet, tierGet, redisSet, redisGet) = Alternate(settings.Reps, tierPort, redisPort, (port, r) => MeasureLmcache(port, c, settings.Ops, value, r), log);

        var report = new CommandReport(new JsonObject
        {
            ["bench"] = "server",
            ["workload"] = "lmcache",
            ["concurrency"] = c,
            ["value_bytes"] = valueBytes,
            ["metadata_bytes"] = MetadataBytes,
            ["chunks_per_client"] = settings.Ops,
            ["reps"] = settings.Reps,
            ["redis_version"] = redisVersion,
        }
        .Versus("lmcache_get_gbs", tierGet, "redis_lmcache_get_gbs", redisGet, "get_vs_redis")
        .Versus("lmcache_set_gbs", tierSet, "redis_lmcache_set_gbs", redisSet, "set_vs_redis"));
        return report.Table("LMCache pattern", "tierkv serve", $"redis-server {redisVersion}", "ratio")
            .Row("GET (EXISTS batch, GET metadata + kv_bytes)", $"{report["lmcache_get_gbs"]} GB/s", $"{report["redis_lmcache_get_gbs"]} GB/s", $"{report["get_vs_redis"]} (target >= 1.5)")
            .Row("SET (kv_bytes + metadata, pipelined)", $"{report["lmcache_set_gbs"]} GB/s", $"{report["redis_lmcache_set_gbs"]} GB/s", $"{report["set_vs_redis"]} (target >= 1)")
            .Write(settings.Json);
    }

    /// <summary>One repetition on one server: every client stores its chunks, then retrieves them; GB/s of each phase. Keys are deleted afterwards.</summary>
    private static (double Set, double Get) MeasureLmcache(int port, int clients, int chunks, byte[] value, int rep)
    {
        var conns = new LmcacheBenchClient[clients];
        var kvNames = new byte[clients][][];
        var metaNames = new byte[clients][][];
        for (int i = 0; i < clients; i++)
        {
            conns[i] = new LmcacheBenchClient(port);
            kvNames[i] = new byte[chunks][];
            metaNames[i] = new byte[chunks][];
            for (int k = 0; k < chunks; k++)
            {
                // CacheEngineKey.to_string(): fmt@model@world_size@worker_id@chunk_hash, then LMCache's suffixes.
                ulong hash = (ulong)((rep * 1_000_003L) + (i * 10_007L) + k) * 0x9E3779B97F4A7C15UL;
                string key = $"vllm@meta-llama/Llama-3.1-8B-Instruct@1@0@{hash:x16}";
                kvNames[i][k] = Encoding.ASCII.GetBytes(key + "kv_bytes");
                metaNames[i][k] = Encoding.ASCII.GetBytes(key + "metadata");
            }
        }

        try
        {
            var metadata = new byte[MetadataBytes];
            BinaryPrimitives.WriteInt32LittleEndian(metadata, value.Length);
            double set = Phase(clients, i =>
            {
                for (int k = 0; k < chunks; k++)
                {
                    conns[i].PutChunk(kvNames[i][k], value, metaNames[i][k], metadata);
                }
            });
            var dests = new byte[clients][];
            for (int i = 0; i < clients; i++)
            {
                dests[i] = GC.AllocateUninitializedArray<byte>(value.Length, pinned: true);
            }

            double get = Phase(clients, i =>
            {
                var meta = new byte[MetadataBytes];
                int held = conns[i].LeadingExisting(metaNames[i]);
                if (held != chunks)
                {
                    throw new InvalidOperationException($"EXISTS found {held} of {chunks} metadata keys on port {port}.");
                }

                for (int k = 0; k < chunks; k++)
                {
                    int n = conns[i].GetChunk(metaNames[i][k], kvNames[i][k], meta, dests[i]);
                    if (n != value.Length)
                    {
                        throw new InvalidOperationException($"GET {Encoding.ASCII.GetString(kvNames[i][k])} on port {port} returned {n} bytes, not {value.Length}.");
                    }
                }
            });
            foreach (var d in dests)
            {
                if (!d.AsSpan().SequenceEqual(value))
                {
                    throw new InvalidOperationException($"A chunk read back from port {port} differs from the one written.");
                }
            }

            using (var admin = TierKvClient.Connect("127.0.0.1", port))
            {
                for (int i = 0; i < clients; i++)
                {
                    var args = new List<string> { "DEL" };
                    args.AddRange(kvNames[i].Select(Encoding.ASCII.GetString));
                    args.AddRange(metaNames[i].Select(Encoding.ASCII.GetString));
                    admin.Execute([.. args]);
                }
            }

            double bytes = (double)clients * chunks * value.Length;
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
}
