using System.Diagnostics.Metrics;
using TierKv.Server.Connections;

namespace TierKv.Server.Hosting;

/// <summary>The server's own instruments on the <c>TierKv</c> meter, next to the store's.</summary>
internal sealed class ServerInstruments
{
    private readonly Counter<long> _commands;
    private readonly Counter<long> _connections;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _protocolErrors;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _slowSenders;
    private readonly KeyValuePair<string, object?>[] _commandTags;

    public ServerInstruments(Meter meter, Func<int> connected, IReadOnlyList<Tenant> tenants)
    {
        meter.CreateObservableGauge("tierkv.server.pinned_chunks", () => PerTenant(tenants, static t => t.Values.PinnedChunks), "{chunk}", "Values pinned by KV.PIN, by tenant.");
        meter.CreateObservableGauge("tierkv.server.pinned_bytes", () => PerTenant(tenants, static t => t.Values.PinnedBytes), "By", "Record bytes of the values pinned by KV.PIN, by tenant (limit: MaxPinnedBytes).");
        _commands = meter.CreateCounter<long>("tierkv.server.commands", "{command}", "Commands received, by command and tenant.");
        _connections = meter.CreateCounter<long>("tierkv.server.connections_accepted", "{connection}", "Connections accepted.");
        _rejected = meter.CreateCounter<long>("tierkv.server.connections_rejected", "{connection}", "Connections refused (Server:MaxClients).");
        _protocolErrors = meter.CreateCounter<long>("tierkv.server.protocol_errors", "{error}", "Malformed or over-limit frames (the connection is closed).");
        _authFailures = meter.CreateCounter<long>("tierkv.server.auth_failures", "{attempt}", "Failed AUTH or HELLO AUTH attempts.");
        _slowSenders = meter.CreateCounter<long>("tierkv.server.slow_senders", "{connection}", "Connections closed because a frame did not arrive in time.");
        meter.CreateObservableGauge("tierkv.server.connected_clients", connected, "{connection}", "Clients connected now.");
        _commandTags = [.. CommandNames.Tags.Select(t => new KeyValuePair<string, object?>("command", t))];
    }

    public void Command(CommandKind kind, Tenant? tenant)
    {
        if (!_commands.Enabled)
        {
            return;
        }

        if (tenant is null)
        {
            _commands.Add(1, _commandTags[(int)kind]);
        }
        else
        {
            _commands.Add(1, _commandTags[(int)kind], tenant.Tag);
        }
    }

    public void Accepted() => _connections.Add(1);

    private static IEnumerable<Measurement<long>> PerTenant(IReadOnlyList<Tenant> tenants, Func<Tenant, long> value)
    {
        foreach (var t in tenants)
        {
            yield return new Measurement<long>(value(t), t.Tag);
        }
    }

    public void Rejected() => _rejected.Add(1);

    public void ProtocolError() => _protocolErrors.Add(1);

    public void AuthFailure() => _authFailures.Add(1);

    public void SlowSender() => _slowSenders.Add(1);
}
