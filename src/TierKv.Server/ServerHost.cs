using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
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

    /// <summary>The console log formats (<c>Logging:Format</c>, <c>--log-format</c>); the first is the default.</summary>
    public static IReadOnlyList<string> LogFormats { get; } = ["simple", "json"];

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

            try
            {
                builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
            }
            catch (InvalidDataException ex)
            {
                throw new ArgumentException($"The configuration file '{configFile}' is not valid JSON: {ex.GetBaseException().Message}", ex);
            }
        }

        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(overrides);
        ServerOptions options;
        try
        {
            options = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the type it expected ("Failed to convert ... 'Server:Port' to type 'System.Int32'").
            throw new ArgumentException(ex.Message, ex);
        }

        options.Validate();
        string logFormat = builder.Configuration["Logging:Format"] ?? LogFormats[0];
        if (!LogFormats.Contains(logFormat, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Logging:Format must be {string.Join(" or ", LogFormats)}; got '{logFormat}'.");
        }

        if (options.InlineSocketCompletions && Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            // Read once when the first socket is used; the serve process has none yet.
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }

        builder.Logging.ClearProviders();
        // Per-request HTTP logs (each Prometheus scrape) are noise for a cache daemon; configuration can turn them back on.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // A failure to start (the RESP port in use) reaches the caller, which reports it in one line; the host would
        // also log it with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        if (string.Equals(logFormat, "json", StringComparison.OrdinalIgnoreCase))
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

        if (options.MetricsPort >= 0)
        {
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(options.MetricsBind ?? options.Bind), options.MetricsPort));
        }
        else
        {
            // No HTTP endpoint: Kestrel with no address would listen on a default port, so no HTTP server runs at all.
            builder.Services.AddSingleton<IServer, NoHttpServer>();
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
