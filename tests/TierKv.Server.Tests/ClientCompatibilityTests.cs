using System.Diagnostics;
using StackExchange.Redis;

namespace TierKv.Server.Tests;

public class ClientCompatibilityTests
{
    private static string? Which(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);

    private static (int Code, string Output) Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30000), "redis-cli did not finish");
        return (p.ExitCode, output.Trim());
    }

    [SkippableFact]
    public async Task Redis_cli_round_trip()
    {
        string? cli = Which("redis-cli");
        Skip.If(cli is null && Environment.GetEnvironmentVariable("CI") is null, "redis-cli is not installed (apt-get install redis-tools); CI installs it");
        Assert.NotNull(cli);
        await using var s = TestServer.Start();
        string port = s.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("PONG", Run(cli, "-p", port, "PING").Output);
        Assert.Equal("OK", Run(cli, "-p", port, "SET", "00112233445566778899aabbccddeeff", "chunk-bytes").Output);
        Assert.Equal("chunk-bytes", Run(cli, "-p", port, "GET", "00112233445566778899aabbccddeeff").Output);
        Assert.Equal("1", Run(cli, "-p", port, "KV.LOOKUP", "KEYS", "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100").Output);
        Assert.Equal("1\n0", Run(cli, "-p", port, "KV.EXISTS", "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100").Output);
        Assert.Contains("redis_version", Run(cli, "-p", port, "INFO").Output, StringComparison.Ordinal);
        Assert.Contains("tenant", Run(cli, "-3", "-p", port, "KV.STATS").Output, StringComparison.Ordinal);
        Assert.Equal("1", Run(cli, "-p", port, "DEL", "00112233445566778899aabbccddeeff").Output);
    }

    [Fact]
    public async Task StackExchange_Redis_talks_to_the_server()
    {
        await using var s = TestServer.Start();
        var config = new ConfigurationOptions { EndPoints = { { "127.0.0.1", s.Port } }, AbortOnConnectFail = true, ConnectTimeout = 10000, SyncTimeout = 10000 };
        using var mux = await ConnectionMultiplexer.ConnectAsync(config);
        var db = mux.GetDatabase();
        var value = new byte[300_000];
        new Random(9).NextBytes(value);
        Assert.True(await db.StringSetAsync("se:1", value));
        byte[]? back = await db.StringGetAsync("se:1");
        Assert.Equal(value, back);
        Assert.True(await db.KeyExistsAsync("se:1"));
        Assert.False((await db.StringGetAsync("se:missing")).HasValue);
        var lookup = await db.ExecuteAsync("KV.LOOKUP", "KEYS", "se:1", "se:missing");
        Assert.Equal(1, (int)lookup);
        Assert.True(await db.KeyDeleteAsync("se:1"));
        Assert.True((await db.PingAsync()) >= TimeSpan.Zero);
    }

    [Fact]
    public async Task StackExchange_Redis_authenticates_as_a_tenant_over_resp3()
    {
        const string token = "stackexchange-tenant-token-000";
        await using var s = TestServer.Start(new ServerOptions { Tenants = [new TenantOptions { Name = "se", Token = token }] });
        var config = new ConfigurationOptions { EndPoints = { { "127.0.0.1", s.Port } }, User = "se", Password = token, Protocol = RedisProtocol.Resp3, ConnectTimeout = 10000 };
        using var mux = await ConnectionMultiplexer.ConnectAsync(config);
        var db = mux.GetDatabase();
        await db.StringSetAsync("k", "v");
        Assert.Equal("v", (string?)await db.StringGetAsync("k"));
    }
}
