using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;

namespace TierKv.Server.Hosting;

/// <summary>
/// The HTTP server of <c>tierkv serve</c> when <see cref="ServerOptions.MetricsPort"/> is -1: it opens no port.
/// (Kestrel given no address listens on a default one, which "no HTTP endpoint" must not do.)
/// </summary>
internal sealed class NoHttpServer : IServer
{
    public IFeatureCollection Features { get; } = new FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
    }
}
