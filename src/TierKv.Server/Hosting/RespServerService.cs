using Microsoft.Extensions.Hosting;

namespace TierKv.Server.Hosting;

/// <summary>Runs the <see cref="RespServer"/> inside the generic host: starts with it, drains on host shutdown.</summary>
internal sealed class RespServerService(RespServer server) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        server.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);
}
