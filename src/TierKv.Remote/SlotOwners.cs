using System.Diagnostics;
using System.Net;
using StackExchange.Redis;

namespace TierKv.Remote;

/// <summary>
/// Which primary owns each of the 16,384 cluster slots, from <c>CLUSTER NODES</c>, refreshed in the background at most
/// once a second (never on the caller's path). The client library's own routing hands a dead owner's keys to another
/// node, where they wait for a connection that never comes; knowing the real owner lets the tier answer "miss" at
/// once for a node that is down. A standalone server owns every key.
/// </summary>
internal sealed class SlotOwners
{
    private const int SlotCount = 16384;

    private readonly ConnectionMultiplexer _mux;
    private readonly long _refreshTicks = Stopwatch.Frequency;
    private EndPoint?[] _owners = new EndPoint?[SlotCount];
    private EndPoint? _single;
    private long _refreshedAt;
    private int _refreshing;

    public SlotOwners(ConnectionMultiplexer mux) => _mux = mux;

    /// <summary>The owner of <paramref name="key"/>'s slot as last seen; null when none is known.</summary>
    public EndPoint? OwnerOf(in RedisKey key)
    {
        if (Stopwatch.GetTimestamp() - Volatile.Read(ref _refreshedAt) > _refreshTicks && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = RefreshAsync();
        }

        if (Volatile.Read(ref _single) is { } single)
        {
            return single;
        }

        int slot = _mux.HashSlot(key);
        return (uint)slot < SlotCount ? Volatile.Read(ref _owners)[slot] : null;
    }

    /// <summary>Reads the slot map from the first primary that answers.</summary>
    public async Task RefreshAsync()
    {
        try
        {
            foreach (var server in _mux.GetServers())
            {
                if (!server.IsConnected || server.IsReplica)
                {
                    continue;
                }

                if (server.ServerType != ServerType.Cluster)
                {
                    Volatile.Write(ref _single, server.EndPoint);
                    return;
                }

                ClusterConfiguration? config;
                try
                {
                    config = await server.ClusterNodesAsync().WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                }
                catch (RedisServerException)
                {
                    // No permission for CLUSTER NODES (an ACL user): the client's own copy, as of its last refresh.
                    config = server.ClusterConfiguration;
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    continue; // a stalled or dying node: ask the next one
                }

                if (config is null)
                {
                    continue;
                }

                var owners = new EndPoint?[SlotCount];
                foreach (var node in config.Nodes)
                {
                    if (node.IsReplica || node.EndPoint is null)
                    {
                        continue;
                    }

                    foreach (var range in node.Slots)
                    {
                        for (int s = Math.Max(0, range.From); s <= Math.Min(SlotCount - 1, range.To); s++)
                        {
                            owners[s] = node.EndPoint;
                        }
                    }
                }

                Volatile.Write(ref _owners, owners);
                Volatile.Write(ref _single, null);
                return;
            }
        }
        finally
        {
            Volatile.Write(ref _refreshedAt, Stopwatch.GetTimestamp());
            Volatile.Write(ref _refreshing, 0);
        }
    }
}
