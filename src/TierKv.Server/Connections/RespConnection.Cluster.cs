using System.Net;

namespace TierKv.Server.Connections;

/// <summary>
/// CLUSTER and COMMAND: a single daemon answers as a one-node cluster that owns all 16384 slots, so cluster clients
/// (LMCache's <c>redis-cluster://</c> connector, Valkey GLIDE in cluster mode) find every key on it.
/// </summary>
internal sealed partial class RespConnection
{
    private ValueTask<bool> Cluster(ReadOnlySpan<byte> src, int argc)
    {
        if (argc < 2)
        {
            return WrongArgs("cluster");
        }

        var sub = Arg(src, _args[1]);
        var (ip, port) = AnnouncedEndPoint();
        string id = _server.NodeId;
        if (Ascii.EqualsIgnoreCase(sub, "INFO"u8))
        {
            _out.Verbatim("cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:1\r\ncluster_my_epoch:1\r\n");
        }
        else if (Ascii.EqualsIgnoreCase(sub, "MYID"u8))
        {
            _out.Bulk(id);
        }
        else if (Ascii.EqualsIgnoreCase(sub, "SLOTS"u8))
        {
            _out.ArrayHeader(1);
            _out.ArrayHeader(3);
            _out.Integer(0);
            _out.Integer(ClusterSlots.Count - 1);
            _out.ArrayHeader(4);
            _out.Bulk(ip);
            _out.Integer(port);
            _out.Bulk(id);
            _out.MapHeader(0);
        }
        else if (Ascii.EqualsIgnoreCase(sub, "SHARDS"u8))
        {
            _out.ArrayHeader(1);
            _out.MapHeader(2);
            _out.Bulk("slots"u8);
            _out.ArrayHeader(2);
            _out.Integer(0);
            _out.Integer(ClusterSlots.Count - 1);
            _out.Bulk("nodes"u8);
            _out.ArrayHeader(1);
            _out.MapHeader(7);
            _out.Bulk("id"u8);
            _out.Bulk(id);
            _out.Bulk("port"u8);
            _out.Integer(port);
            _out.Bulk("ip"u8);
            _out.Bulk(ip);
            _out.Bulk("endpoint"u8);
            _out.Bulk(ip);
            _out.Bulk("role"u8);
            _out.Bulk("master"u8);
            _out.Bulk("replication-offset"u8);
            _out.Integer(0);
            _out.Bulk("health"u8);
            _out.Bulk("online"u8);
        }
        else if (Ascii.EqualsIgnoreCase(sub, "NODES"u8))
        {
            _out.Verbatim($"{id} {ip}:{port}@{port + 10000} myself,master - 0 0 1 connected 0-{ClusterSlots.Count - 1}\n");
        }
        else if (Ascii.EqualsIgnoreCase(sub, "KEYSLOT"u8) && argc == 3)
        {
            _out.Integer(ClusterSlots.Of(Arg(src, _args[2])));
        }
        else if (Ascii.EqualsIgnoreCase(sub, "COUNTKEYSINSLOT"u8) && argc == 3)
        {
            // Keys are stored as hashes of their names, so slots are not indexed; an empty answer is never claimed.
            return Fail(Replies.ClusterUnsupported("COUNTKEYSINSLOT"));
        }
        else
        {
            return Fail(Replies.UnknownClusterSubcommand(sub));
        }

        return True;
    }

    /// <summary>The address this client reached the server on (what a cluster client must connect to), and the RESP port.</summary>
    private (string Ip, int Port) AnnouncedEndPoint()
    {
        var local = _socket.LocalEndPoint as IPEndPoint;
        var address = local?.Address ?? IPAddress.Loopback;
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return (address.ToString(), _server.EndPoint.Port);
    }

    /// <summary>COMMAND [COUNT | INFO name ... | DOCS ...]: the command table (<see cref="CommandTable"/>).</summary>
    private ValueTask<bool> Command(ReadOnlySpan<byte> src, int argc)
    {
        if (argc == 1)
        {
            _out.ArrayHeader(CommandTable.All.Length);
            foreach (var e in CommandTable.All)
            {
                CommandTable.Write(_out, e);
            }

            return True;
        }

        var sub = Arg(src, _args[1]);
        if (Ascii.EqualsIgnoreCase(sub, "COUNT"u8))
        {
            _out.Integer(CommandTable.All.Length);
        }
        else if (Ascii.EqualsIgnoreCase(sub, "INFO"u8))
        {
            _out.ArrayHeader(argc - 2);
            for (int i = 2; i < argc; i++)
            {
                if (CommandTable.TryFind(Arg(src, _args[i]), out var e))
                {
                    CommandTable.Write(_out, e);
                }
                else
                {
                    _out.Null();
                }
            }
        }
        else if (Ascii.EqualsIgnoreCase(sub, "DOCS"u8))
        {
            _out.MapHeader(0);
        }
        else
        {
            return Fail(Replies.UnknownCommandSubcommand(sub));
        }

        return True;
    }
}
