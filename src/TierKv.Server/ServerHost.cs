using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using TierKv.Metrics;
using TierKv.Server.Hosting;

namespace TierKv.Server;

/// <summary>
/// Builds the <c>tierkv serve</c> process: configuration from an optional JSON file, <c>TIERKV_</c> environment
/// variables and the command line (later sources win), structured console logs, the RESP listener as a hosted
/// service, and an HTTP endpoint with Prometheus <c>/metrics</c> (OpenTelemetry's exporter) and <c>/health</c>.
/// </summary>
public static class ServerHost
{
    /// <summary>Environment variable prefix: <c>TIERKV_Server__Port=6400</c>.</summary>
    public const string EnvironmentPrefix = "TIERKV_";

    private const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Builds the host. <paramref name="configFile"/> is a JSON file (optional); <paramref name="overrides"/> are
    /// flat configuration keys (<c>Server:Port</c>) from the command line, applied last.
    /// </summary>
    public static WebApplication Build(string? configFile, IEnumerable<KeyValuePair<string, string?>> overrides)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.Sources.Clear();
        if (!string.IsNullOrEmpty(configFile))
        {
            if (!File.Exists(configFile))
            {
                throw new ArgumentException($"The configuration file '{configFile}' does not exist.");
            }

            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
        }

        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(overrides);
        var options = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        options.Validate();
        if (options.InlineSocketCompletions && Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            // Read once when the first socket is used; the serve process has none yet.
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }

        builder.Logging.ClearProviders();
        // Per-request HTTP logs (each Prometheus scrape) are noise for a cache daemon; configuration can turn them back on.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        if (string.Equals(builder.Configuration["Logging:Format"], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(o => o.IncludeScopes = false);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }

        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownTimeoutSeconds + 5));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<TierKvMetrics>();
        builder.Services.AddSingleton(sp => new RespServer(options, sp.GetRequiredService<ILogger<RespServer>>(), sp.GetRequiredService<TierKvMetrics>()));
        builder.Services.AddHostedService<RespServerService>();
        builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(TierKvMetrics.MeterName).AddPrometheusExporter());

        builder.WebHost.ConfigureKestrel(k =>
        {
            if (options.MetricsPort >= 0)
            {
                k.Listen(IPAddress.Parse(options.MetricsBind ?? options.Bind), options.MetricsPort);
            }
        });
        if (options.MetricsPort < 0)
        {
            // No HTTP endpoint: keep Kestrel off the default port.
            builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, "http://127.0.0.1:0");
        }

        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/health", (RespServer server) =>
        {
            bool ok = !server.Draining;
            var body = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["status"] = ok ? "ok" : "draining",
                ["resp_endpoint"] = server.EndPoint.ToString(),
                ["connected_clients"] = server.ConnectedClients,
            });
            return Results.Content(body, "application/json", statusCode: ok ? 200 : 503);
        });
        return app;
    }
}
