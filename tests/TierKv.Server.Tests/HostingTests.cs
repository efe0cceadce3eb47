using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

public class HostingTests
{
    [Fact]
    public async Task The_host_serves_resp_metrics_and_health_from_configuration()
    {
        string file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """{ "Server": { "Port": 0, "MetricsPort": 0, "DramBytes": 33554432, "SlotBytes": 1048576 }, "Logging": { "LogLevel": { "Default": "Warning" } } }""");
        await using var app = ServerHost.Build(file, [new("Server:MaxClients", "77")]);
        await app.StartAsync();
        try
        {
            var server = app.Services.GetRequiredService<RespServer>();
            Assert.Equal(77, server.Options.MaxClients);
            using (var c = TierKvClient.Connect("127.0.0.1", server.EndPoint.Port))
            {
                c.Set("m"u8, "v"u8);
                Assert.Equal(1, c.Get("m"u8, new byte[4]));
            }

            var http = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var web = new HttpClient { BaseAddress = new Uri(http) };
            var health = await web.GetAsync(new Uri("/health", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Contains("\"ok\"", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            string metrics = await web.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            Assert.Contains("tierkv_server_commands", metrics, StringComparison.Ordinal);
            Assert.Contains("tierkv_tier_write_bytes", metrics, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync();
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Metrics_port_minus_one_runs_no_http_server()
    {
        await using var app = ServerHost.Build(null, [new("Server:Port", "0"), new("Server:MetricsPort", "-1"), new("Server:DramBytes", "33554432"), new("Server:SlotBytes", "1048576")]);
        await app.StartAsync();
        try
        {
            // Kestrel given no address listens on a default port; with -1 there must be no HTTP listener at all.
            Assert.Null(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>());
            using var c = TierKvClient.Connect("127.0.0.1", app.Services.GetRequiredService<RespServer>().EndPoint.Port);
            c.Set("m"u8, "v"u8);
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public void Dram_beyond_this_machines_memory_is_refused_before_anything_is_allocated()
    {
        long memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        var ex = Assert.Throws<ArgumentException>(() => new ServerOptions { DramBytes = memory + (1L << 30) }.Validate());
        Assert.Contains("Server:DramBytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains("memory", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_or_configuration_file_of_the_wrong_kind_is_an_error_naming_the_file()
    {
        string junk = Path.GetTempFileName();
        await File.WriteAllBytesAsync(junk, [0xEF, 0x01, 0x02, 0x7F, 0x00, 0x30, 0x82]);
        try
        {
            var tls = Assert.Throws<ArgumentException>(() => new TlsOptions { CertificatePath = junk }.Validate());
            Assert.Contains(junk, tls.Message, StringComparison.Ordinal);
            var config = Assert.Throws<ArgumentException>(() => ServerHost.Build(junk, []));
            Assert.Contains(junk, config.Message, StringComparison.Ordinal);
            Assert.Contains("not valid JSON", config.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(junk);
        }
    }

    [Fact]
    public async Task Tls_clients_round_trip_values()
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        string pfx = Path.GetTempFileName();
        await File.WriteAllBytesAsync(pfx, cert.Export(X509ContentType.Pkcs12, "pw"));
        try
        {
            await using var s = TestServer.Start(new ServerOptions { Tls = new TlsOptions { CertificatePath = pfx, Password = "pw" } });
            using var c = TierKvClient.Connect("127.0.0.1", s.Port, tlsTargetHost: "localhost", allowUntrusted: true);
            var value = new byte[200_000];
            new Random(1).NextBytes(value);
            c.Set("tls"u8, value);
            var dest = new byte[value.Length];
            Assert.Equal(value.Length, c.Get("tls"u8, dest));
            Assert.Equal(value, dest);
        }
        finally
        {
            File.Delete(pfx);
        }
    }
}
