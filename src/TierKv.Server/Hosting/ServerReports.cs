using System.Globalization;

namespace TierKv.Server.Hosting;

/// <summary>INFO text and the KV.STATS map: a tenant sees its own tiers and traffic only.</summary>
internal static class ServerReports
{
    /// <summary>The Redis version clients are told (the command set they may assume), not TierKV's own.</summary>
    public const string CompatibleVersion = "7.2.0";

    public static string Info(RespServer server, Tenant tenant)
    {
        var s = tenant.Stats;
        long used = 0;
        long cap = 0;
        long chunks = 0;
        foreach (var t in tenant.Store.Tiers)
        {
            used += t.UsedBytes;
            cap += t.CapacityBytes;
            chunks += t.ChunkCount;
        }

        var sb = new StringBuilder();
        sb.Append("# Server\r\n");
        sb.Append("redis_version:").Append(CompatibleVersion).Append("\r\n");
        sb.Append("redis_mode:standalone\r\n");
        sb.Append("server_name:tierkv\r\n");
        sb.Append("tierkv_tenant:").Append(tenant.Name).Append("\r\n");
        sb.Append("tcp_port:").Append(server.EndPoint.Port).Append("\r\n");
        sb.Append("uptime_in_seconds:").Append((long)Stopwatch.GetElapsedTime(server.StartTimestamp).TotalSeconds).Append("\r\n");
        sb.Append("\r\n# Clients\r\n");
        sb.Append("connected_clients:").Append(server.ConnectedClients).Append("\r\n");
        sb.Append("maxclients:").Append(server.Options.MaxClients).Append("\r\n");
        sb.Append("\r\n# Memory\r\n");
        sb.Append("used_memory:").Append(used).Append("\r\n");
        sb.Append("maxmemory:").Append(cap).Append("\r\n");
        sb.Append("maxmemory_policy:").Append(tenant.Dram.PolicyName).Append("\r\n");
        foreach (var (name, value) in DramShare(server, tenant))
        {
            sb.Append("tierkv_").Append(name.Replace('.', '_')).Append(':').Append(value).Append("\r\n");
        }

        sb.Append("\r\n# Stats\r\n");
        sb.Append("total_connections_received:").Append(server.ConnectionsServed).Append("\r\n");
        sb.Append("total_commands_processed:").Append(Interlocked.Read(ref s.Commands)).Append("\r\n");
        sb.Append("keyspace_hits:").Append(Interlocked.Read(ref s.GetHits)).Append("\r\n");
        sb.Append("keyspace_misses:").Append(Interlocked.Read(ref s.GetMisses)).Append("\r\n");
        sb.Append("evicted_keys:").Append(tenant.DramCounters.Evictions).Append("\r\n");
        sb.Append("pinned_keys:").Append(tenant.Values.PinnedChunks).Append("\r\n");
        sb.Append("pinned_bytes:").Append(tenant.Values.PinnedBytes).Append("\r\n");
        if (tenant.Dram.Curves is { } curves)
        {
            sb.Append("\r\n# Curves\r\n");
            foreach (var (name, value) in Curves.CurveStats.Pairs("tierkv_", curves))
            {
                sb.Append(name.Replace('.', '_')).Append(':').Append(value).Append("\r\n");
            }
        }

        sb.Append("\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\n");
        sb.Append("\r\n# Cluster\r\ncluster_enabled:1\r\n");
        sb.Append("\r\n# Keyspace\r\n");
        sb.Append("db0:keys=").Append(chunks).Append(",expires=").Append(tenant.Values.ExpiringKeys).Append(",avg_ttl=0\r\n");
        return sb.ToString();
    }

    /// <summary>
    /// The tenant's DRAM share: the capacity of its chunk records now, and with rebalancing on its bounds, the target
    /// the rebalancer moves toward and the moves it took part in.
    /// </summary>
    private static List<(string Name, long Value)> DramShare(RespServer server, Tenant tenant)
    {
        var dram = tenant.Dram;
        var pairs = new List<(string, long)> { ("dram.capacity_bytes", dram.CapacityBytes), ("dram.pool_bytes", dram.PoolBytes) };
        if (server.Rebalancer is { } r)
        {
            var t = r.Tiers[tenant.Index];
            pairs.Add(("dram.min_bytes", t.MinSlots * dram.SlotBytes));
            pairs.Add(("dram.max_bytes", t.MaxSlots * dram.SlotBytes));
            pairs.Add(("dram.target_bytes", r.TargetBytes(tenant.Index)));
            pairs.Add(("dram.moves_in", r.MovesIn(tenant.Index)));
            pairs.Add(("dram.moves_out", r.MovesOut(tenant.Index)));
        }

        return pairs;
    }

    public static void WriteStats(ReplyBuffer output, RespServer server, Tenant tenant)
    {
        var s = tenant.Stats;
        var pairs = new List<(string Name, object Value)>
        {
            ("tenant", tenant.Name),
            ("uptime_s", (long)Stopwatch.GetElapsedTime(server.StartTimestamp).TotalSeconds),
            ("connected_clients", (long)server.ConnectedClients),
            ("commands", Interlocked.Read(ref s.Commands)),
            ("errors", Interlocked.Read(ref s.Errors)),
            ("get_hits", Interlocked.Read(ref s.GetHits)),
            ("get_misses", Interlocked.Read(ref s.GetMisses)),
            ("puts", Interlocked.Read(ref s.Puts)),
            ("put_rejections", Interlocked.Read(ref s.PutRejections)),
            ("lookups", Interlocked.Read(ref s.Lookups)),
            ("lookup_requested_tokens", Interlocked.Read(ref s.LookupRequestedTokens)),
            ("bytes_in", Interlocked.Read(ref s.BytesIn)),
            ("bytes_out", Interlocked.Read(ref s.BytesOut)),
            ("get_p50_us", s.GetLatency.PercentileMicroseconds(0.5)),
            ("get_p99_us", s.GetLatency.PercentileMicroseconds(0.99)),
            ("put_p50_us", s.PutLatency.PercentileMicroseconds(0.5)),
            ("put_p99_us", s.PutLatency.PercentileMicroseconds(0.99)),
            ("lookup_p50_us", s.LookupLatency.PercentileMicroseconds(0.5)),
            ("lookup_p99_us", s.LookupLatency.PercentileMicroseconds(0.99)),
            ("gc_gen0_collections", (long)GC.CollectionCount(0)),
            ("gc_gen2_collections", (long)GC.CollectionCount(2)),
            ("gc_pause_ms", (long)GC.GetTotalPauseDuration().TotalMilliseconds),
            ("gc_allocated_bytes", GC.GetTotalAllocatedBytes()),
        };
        var names = new List<string>();
        foreach (var tier in tenant.Store.Tiers)
        {
            names.Add(tier.Name);
            var c = tenant.Store.Metrics.ForTier(tier.Name);
            string p = "tier." + tier.Name + ".";
            pairs.Add((p + "kind", tier.Kind.ToString().ToLowerInvariant()));
            pairs.Add((p + "capacity_bytes", tier.CapacityBytes));
            pairs.Add((p + "used_bytes", tier.UsedBytes));
            pairs.Add((p + "chunks", tier.ChunkCount));
            if (tier is Tiers.IWriteBehindTier wb)
            {
                pairs.Add((p + "writes_in_flight", (long)wb.WritesInFlight));
            }

            pairs.Add((p + "hit_tokens", Interlocked.Read(ref c.HitTokens)));
            pairs.Add((p + "reads", Interlocked.Read(ref c.Reads)));
            pairs.Add((p + "read_bytes", Interlocked.Read(ref c.ReadBytes)));
            pairs.Add((p + "writes", Interlocked.Read(ref c.Writes)));
            pairs.Add((p + "write_bytes", Interlocked.Read(ref c.WriteBytes)));
            pairs.Add((p + "evictions", Interlocked.Read(ref c.Evictions)));
            pairs.Add((p + "rejections", Interlocked.Read(ref c.Rejections)));
            pairs.Add((p + "checksum_failures", Interlocked.Read(ref c.ChecksumFailures)));
            pairs.Add((p + "io_errors", Interlocked.Read(ref c.IoErrors)));
            pairs.Add((p + "read_p50_us", c.ReadLatency.PercentileMicroseconds(0.5)));
            pairs.Add((p + "read_p99_us", c.ReadLatency.PercentileMicroseconds(0.99)));
            if (c.Curves is { } curves)
            {
                foreach (var (name, value) in Curves.CurveStats.Pairs(p, curves))
                {
                    pairs.Add((name, value));
                }
            }
        }

        if (tenant.Values.SmallDram is { } small)
        {
            // The small-value area (values of up to a small record), apart from the tiers of chunk-sized records.
            pairs.Add(("small_values.chunks", small.ChunkCount));
            pairs.Add(("small_values.used_bytes", small.UsedBytes));
            pairs.Add(("small_values.capacity_bytes", small.CapacityBytes));
        }

        foreach (var (name, value) in DramShare(server, tenant))
        {
            pairs.Add((name, value));
        }

        pairs.Add(("expiring_keys", (long)tenant.Values.ExpiringKeys));
        pairs.Add(("expired_keys", tenant.Values.ExpiredKeys));
        pairs.Add(("pinned_chunks", (long)tenant.Values.PinnedChunks));
        pairs.Add(("pinned_bytes", tenant.Values.PinnedBytes));
        pairs.Add(("max_pinned_bytes", tenant.Values.MaxPinnedBytes));
        pairs.Insert(1, ("tiers", string.Join(',', names)));
        output.MapHeader(pairs.Count);
        foreach (var (name, value) in pairs)
        {
            output.Bulk(name);
            switch (value)
            {
                case long l:
                    output.Integer(l);
                    break;
                case double d:
                    output.Bulk(d.ToString("0.###", CultureInfo.InvariantCulture));
                    break;
                default:
                    output.Bulk(value.ToString() ?? "");
                    break;
            }
        }
    }
}
