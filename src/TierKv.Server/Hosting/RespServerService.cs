using System.Net.Sockets;
using Microsoft.Extensions.Hosting;

namespace TierKv.Server.Hosting;

/// <summary>Runs the <see cref="RespServer"/> inside the generic host: starts with it, drains on host shutdown.</summary>
internal sealed class RespServerService(RespServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            server.Start();
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied or SocketError.AddressNotAvailable)
        {
            var o = server.Options;
            throw new IOException($"Cannot listen on {o.Bind}:{o.Port} (Server:Bind, Server:Port): {ex.Message}{(ex.SocketErrorCode == SocketError.AddressAlreadyInUse ? "; another server (another tierkv serve?) uses the port" : "")}.", ex);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);
}
