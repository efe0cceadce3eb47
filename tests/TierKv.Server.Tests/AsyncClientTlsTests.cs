using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

public sealed class AsyncClientTlsTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);
    private readonly string _pfx = Path.GetTempFileName();

    public void Dispose() => File.Delete(_pfx);

    [Fact]
    public async Task The_async_client_round_trips_over_TLS_and_refuses_an_untrusted_certificate_by_default()
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        await File.WriteAllBytesAsync(_pfx, cert.Export(X509ContentType.Pkcs12, "pw"));
        await using var s = TestServer.Start(new ServerOptions { Tls = new TlsOptions { CertificatePath = _pfx, Password = "pw" } });

        await Assert.ThrowsAsync<AuthenticationException>(() => TierKvAsyncClient.ConnectAsync("127.0.0.1", s.Port, tlsTargetHost: "localhost").WaitAsync(Limit));

        await using var c = await TierKvAsyncClient.ConnectAsync("127.0.0.1", s.Port, tlsTargetHost: "localhost", allowUntrusted: true).WaitAsync(Limit);
        var value = new byte[200_000];
        new Random(1).NextBytes(value);
        await c.SetAsync("tls"u8.ToArray(), value).AsTask().WaitAsync(Limit);
        var dest = new byte[value.Length];
        Assert.Equal(value.Length, await c.GetAsync("tls"u8.ToArray(), dest).AsTask().WaitAsync(Limit));
        Assert.Equal(value, dest);
    }
}
