using System.Globalization;
using Microsoft.Extensions.Hosting;
using TierKv.Remote;
using TierKv.Server;

namespace TierKv.Cli.Commands;

/// <summary>
/// <c>tierkv serve</c>: the node-local cache daemon. Settings come from <c>--config FILE</c> (JSON, section
/// <c>Server</c>), then <c>TIERKV_Server__*</c> environment variables, then these options (last wins).
/// </summary>
internal sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--config <FILE>")]
        [Description("JSON configuration file (see deploy/tierkv.json).")]
        public string? Config { get; init; }

        [CommandOption("--bind <ADDRESS>")]
        [Description("Address to listen on (default 127.0.0.1; a non-loopback address needs tenants with tokens).")]
        public string? Bind { get; init; }

        [CommandOption("--port <PORT>")]
        [Description("RESP port (default 6380; 0 picks a free one).")]
        public int? Port { get; init; }

        [CommandOption("--metrics-port <PORT>")]
        [Description("HTTP port of /metrics and /health (default 9464; 0 picks a free one; -1 turns it off).")]
        public int? MetricsPort { get; init; }

        [CommandOption("--dram <BYTES>")]
        [Description("DRAM tier size per tenant, e.g. 4g, 512m (default 4g).")]
        public string? Dram { get; init; }

        [CommandOption("--slot-bytes <BYTES>")]
        [Description("Largest value (DRAM slot), e.g. 4m; default one chunk of --model plus its header.")]
        public string? SlotBytes { get; init; }

        [CommandOption("--model <NAME>")]
        [Description("Model shape of token lookups: llama3.2-1b, llama3-8b (default), llama3-70b.")]
        public string? Model { get; init; }

        [CommandOption("--data <DIR>")]
        [Description("Folder of the SSD tier (off when absent).")]
        public string? Data { get; init; }

        [CommandOption("--ssd <BYTES>")]
        [Description("SSD tier size per tenant (default 16g).")]
        public string? Ssd { get; init; }

        [CommandOption("--remote <HOST:PORT,...>")]
        [Description("Redis, Valkey or Garnet cluster under the DRAM and SSD tiers (seed endpoints, comma-separated); misses are read from it, new values shared with it.")]
        public string? Remote { get; init; }

        [CommandOption("--max-clients <N>")]
        [Description("Most connected clients (default 1024).")]
        public int? MaxClients { get; init; }

        [CommandOption("--tls-cert <FILE>")]
        [Description("TLS certificate (.pfx, or PEM with --tls-key).")]
        public string? TlsCert { get; init; }

        [CommandOption("--tls-key <FILE>")]
        [Description("PEM private key of --tls-cert.")]
        public string? TlsKey { get; init; }

        [CommandOption("--record-trace <FILE>")]
        [Description("Record an access trace (every lookup: time, tenant, tokens, chunk keys) into FILE; tierkv analyze reads it.")]
        public string? RecordTrace { get; init; }

        [CommandOption("--log-format <FORMAT>")]
        [Description("Console log format: simple (default) or json.")]
        public string? LogFormat { get; init; }

        /// <summary>
        /// Checks each flag on its own, naming it and what it expects; the merged settings (file, environment, flags)
        /// are checked again by <see cref="ServerOptions.Validate"/> when the host is built.
        /// </summary>
        public override ValidationResult Validate()
        {
            if (Port is < 0 or > 65535)
            {
                return ValidationResult.Error($"--port must be a TCP port in [0, 65535] (0 picks a free one); got {Port}.");
            }

            if (MetricsPort is < -1 or > 65535)
            {
                return ValidationResult.Error($"--metrics-port must be a TCP port in [0, 65535], or -1 for no HTTP endpoint; got {MetricsPort}.");
            }

            if (MaxClients is < 1)
            {
                return ValidationResult.Error($"--max-clients must be at least 1; got {MaxClients}.");
            }

            if (LogFormat is not null && !ServerHost.LogFormats.Contains(LogFormat, StringComparer.OrdinalIgnoreCase))
            {
                return ValidationResult.Error($"--log-format must be {string.Join(" or ", ServerHost.LogFormats)}; got '{LogFormat}'.");
            }

            foreach (var (file, flag) in new[] { (Config, "--config"), (TlsCert, "--tls-cert"), (TlsKey, "--tls-key") })
            {
                if (file is not null && !File.Exists(file))
                {
                    return ValidationResult.Error($"{flag} '{file}' does not exist.");
                }
            }

            if (Remote is not null)
            {
                var endpoints = RemoteTierOptions.FromEndpoints(Remote).Endpoints;
                if (endpoints.Count == 0)
                {
                    return ValidationResult.Error("--remote needs at least one HOST:PORT of the cluster, e.g. 127.0.0.1:7001.");
                }

                foreach (var e in endpoints)
                {
                    if (!RemoteTierOptions.TryParseEndpoint(e, out _, out _))
                    {
                        return ValidationResult.Error($"--remote: '{e}' is not HOST:PORT with a port in [1, 65535] (e.g. 127.0.0.1:7001; IPv6 as [::1]:7001).");
                    }
                }
            }

            var dram = ByteSizes.Validate(Dram, "--dram", inMemory: true);
            var slot = ByteSizes.Validate(SlotBytes, "--slot-bytes", inMemory: true, max: int.MaxValue);
            return !dram.Successful ? dram : !slot.Successful ? slot : ByteSizes.Validate(Ssd, "--ssd", inMemory: false);
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var o = new List<KeyValuePair<string, string?>>();
        void Add(string key, string? value)
        {
            if (value is not null)
            {
                o.Add(new KeyValuePair<string, string?>(key, value));
            }
        }

        Add("Server:Bind", settings.Bind);
        Add("Server:Port", settings.Port?.ToString(CultureInfo.InvariantCulture));
        Add("Server:MetricsPort", settings.MetricsPort?.ToString(CultureInfo.InvariantCulture));
        Add("Server:DramBytes", settings.Dram is null ? null : ByteSizes.Parse(settings.Dram, "--dram").ToString(CultureInfo.InvariantCulture));
        Add("Server:SlotBytes", settings.SlotBytes is null ? null : ByteSizes.Parse(settings.SlotBytes, "--slot-bytes").ToString(CultureInfo.InvariantCulture));
        Add("Server:Model", settings.Model);
        Add("Server:DataDir", settings.Data);
        Add("Server:SsdBytes", settings.Ssd is null ? null : ByteSizes.Parse(settings.Ssd, "--ssd").ToString(CultureInfo.InvariantCulture));
        if (settings.Remote is not null)
        {
            var endpoints = RemoteTierOptions.FromEndpoints(settings.Remote).Endpoints;
            for (int i = 0; i < endpoints.Count; i++)
            {
                Add($"Server:Remote:Endpoints:{i}", endpoints[i]);
            }
        }

        Add("Server:MaxClients", settings.MaxClients?.ToString(CultureInfo.InvariantCulture));
        Add("Server:Tls:CertificatePath", settings.TlsCert);
        Add("Server:Tls:KeyPath", settings.TlsKey);
        Add("Server:RecordTrace", settings.RecordTrace);
        Add("Logging:Format", settings.LogFormat);
        await using var app = ServerHost.Build(settings.Config, o);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }
}
