namespace TierKv.Server;

/// <summary>One tenant: its name (the <c>AUTH</c> user name), token, key salt and DRAM quota.</summary>
public sealed record TenantOptions
{
    /// <summary>Name, also the user name in <c>AUTH name token</c> and <c>HELLO 3 AUTH name token</c>.</summary>
    public string Name { get; init; } = "";

    /// <summary>Secret token (at least 16 characters).</summary>
    public string Token { get; init; } = "";

    /// <summary>Salt that enters every key of the tenant; defaults to the tenant's name.</summary>
    public string? Salt { get; init; }

    /// <summary>DRAM bytes the tenant may hold; defaults to <see cref="ServerOptions.DramBytes"/>.</summary>
    public long? QuotaBytes { get; init; }

    /// <summary>With <c>Server:Rebalance:Enabled</c>: the fewest DRAM bytes the rebalancer may leave the tenant; defaults to its quota.</summary>
    public long? MinQuotaBytes { get; init; }

    /// <summary>With <c>Server:Rebalance:Enabled</c>: the most DRAM bytes the rebalancer may give the tenant (its pool is allocated at this size); defaults to its quota.</summary>
    public long? MaxQuotaBytes { get; init; }

    /// <summary>SSD bytes the tenant may hold; defaults to <see cref="ServerOptions.SsdBytes"/>.</summary>
    public long? SsdQuotaBytes { get; init; }

    /// <summary>Payload bytes of this tenant's values that <c>KV.PIN</c> may keep pinned; defaults to <see cref="ServerOptions.MaxPinnedBytes"/>, then half the tenant's DRAM.</summary>
    public long? MaxPinnedBytes { get; init; }

    /// <summary>Throws with a message naming the bad setting.</summary>
    public void Validate()
    {
        if (MaxPinnedBytes is < 0)
        {
            throw new ArgumentException($"Server:Tenants: MaxPinnedBytes of tenant '{Name}' must not be negative (0 forbids pins); got {MaxPinnedBytes}.");
        }

        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 64 || Name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new ArgumentException($"Server:Tenants: tenant name '{Name}' must be 1 to 64 characters of letters, digits, '-', '_' or '.'.");
        }

        if (Token.Length < 16)
        {
            throw new ArgumentException($"Server:Tenants: the token of tenant '{Name}' must have at least 16 characters.");
        }
    }
}
