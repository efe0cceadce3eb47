using TierKv.Server.Client;

namespace TierKv.Server.Tests;

public class TenantTests
{
    private const string TokenA = "token-of-tenant-a-0123456789";
    private const string TokenB = "token-of-tenant-b-0123456789";

    private static ServerOptions TwoTenants(long? quotaA = null) => new()
    {
        // The quota is counted in chunk records here: no small-value area is carved from it.
        SmallValueBytes = 0,
        Tenants =
        [
            new TenantOptions { Name = "a", Token = TokenA, QuotaBytes = quotaA },
            new TenantOptions { Name = "b", Token = TokenB },
        ],
    };

    [Fact]
    public async Task Commands_before_auth_are_refused_and_wrong_tokens_rejected()
    {
        await using var s = TestServer.Start(TwoTenants());
        using var c = s.Client();
        c.Ping();
        var noauth = Assert.Throws<TierKvServerException>(() => c.Execute("GET", "x"));
        Assert.StartsWith("NOAUTH", noauth.Message, StringComparison.Ordinal);
        var wrong = Assert.Throws<TierKvServerException>(() => c.Auth("not-a-valid-token-at-all"));
        Assert.StartsWith("WRONGPASS", wrong.Message, StringComparison.Ordinal);
        Assert.Throws<TierKvServerException>(() => c.Auth(TokenA, "b"));
        c.Auth(TokenA, "a");
        Assert.Null(c.Execute("GET", "x"));
    }

    [Fact]
    public async Task Tenants_never_see_or_hit_each_others_keys()
    {
        await using var s = TestServer.Start(TwoTenants());
        using var a = s.Client(TokenA);
        using var b = s.Client(TokenB);
        var key = TierKv.Keys.ChunkKey.Parse("000102030405060708090a0b0c0d0e0f");
        a.Put(key, [1, 2, 3]);
        a.Set("shared-name"u8, "a's"u8);
        var dest = new byte[16];
        Assert.Equal(-1, b.GetChunk(key, dest));
        Assert.Equal(0, b.Lookup([key]));
        Assert.Equal(-1, b.Get("shared-name"u8, dest));
        Assert.Equal(0, b.Delete([key]));
        Assert.Equal(1, a.Lookup([key]));
        Assert.Equal(3, a.GetChunk(key, dest));

        // Same key name from b is a different chunk; a still reads its own.
        b.Set("shared-name"u8, "b's"u8);
        Assert.Equal(3, a.Get("shared-name"u8, dest));
        Assert.Equal("a's"u8.ToArray(), dest[..3]);
        Assert.Equal("a", a.Stats()["tenant"]);
        Assert.Equal("b", b.Stats()["tenant"]);
    }

    [Fact]
    public async Task A_tenant_over_its_quota_evicts_its_own_chunks_only()
    {
        const int slot = 1 << 20;
        const long record = slot + 4096; // a value record: the value, its 8-byte prefix, rounded up to 4 KiB
        await using var s = TestServer.Start(TwoTenants(quotaA: 4L * record));
        using var a = s.Client(TokenA);
        using var b = s.Client(TokenB);
        var value = new byte[slot - 100];
        b.Set("b-keeps-this"u8, value);
        for (int i = 0; i < 10; i++)
        {
            a.Set(System.Text.Encoding.ASCII.GetBytes($"a-{i}"), value);
        }

        var stats = a.Stats();
        Assert.Equal("4", stats["tier.dram.a.chunks"]);
        Assert.True(long.Parse(stats["tier.dram.a.used_bytes"], System.Globalization.CultureInfo.InvariantCulture) <= 4L * record);
        Assert.Equal(value.Length, b.Get("b-keeps-this"u8, new byte[slot]));
        Assert.Equal(value.Length, a.Get("a-9"u8, new byte[slot]));
        Assert.Equal(-1, a.Get("a-0"u8, new byte[slot]));
    }

    [Fact]
    public void A_non_loopback_bind_without_tenants_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServerOptions { Bind = "0.0.0.0" }.Validate());
        Assert.Contains("without authentication", ex.Message, StringComparison.Ordinal);
        new ServerOptions { Bind = "0.0.0.0", Tenants = [new TenantOptions { Name = "a", Token = TokenA }] }.Validate();
    }

    [Fact]
    public void Bad_tenant_settings_name_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServerOptions { Tenants = [new TenantOptions { Name = "a", Token = "short" }] }.Validate());
        Assert.Contains("at least 16", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => new ServerOptions { Tenants = [new TenantOptions { Name = "a", Token = TokenA }, new TenantOptions { Name = "b", Token = TokenA }] }.Validate());
        Assert.Contains("tokens must be unique", ex.Message, StringComparison.Ordinal);
    }
}
