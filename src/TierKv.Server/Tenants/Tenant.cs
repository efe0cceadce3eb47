using System.Security.Cryptography;
using TierKv.Metrics;
using TierKv.Store;

namespace TierKv.Server.Tenants;

/// <summary>
/// One tenant: its own tiered store (so its quota is its DRAM tier's capacity and no other tenant can evict, hit or
/// time its chunks) and the salt that scopes every key it sends.
/// </summary>
internal sealed class Tenant : IDisposable
{
    private readonly byte[] _tokenHash;

    public Tenant(int index, string name, string? token, TenantSalt salt, ValueClass chunks, ValueClass? small, long maxPinnedBytes)
    {
        Index = index;
        Name = name;
        Salt = salt;
        SaltRoot = KeyNames.SaltRoot(salt);
        Salted = salt.Bytes.Length > 0;
        Chunks = chunks;
        Small = small;
        Store = chunks.Store;
        Dram = chunks.Dram;
        _tokenHash = token is null ? [] : SHA256.HashData(Encoding.UTF8.GetBytes(token));
        Tag = new KeyValuePair<string, object?>("tenant", name);
        DramCounters = chunks.DramCounters;
        Values = new TenantStore(chunks, small, maxPinnedBytes);
    }

    /// <summary>The storage API the command handlers use.</summary>
    public TenantStore Values { get; }

    public TierCounters DramCounters { get; }

    /// <summary>Chunk-sized records (the tenant's main store).</summary>
    public ValueClass Chunks { get; }

    /// <summary>Small-value records, when configured.</summary>
    public ValueClass? Small { get; }

    /// <summary>Position in the configuration (the tenant number in access traces).</summary>
    public int Index { get; }

    public string Name { get; }

    public TenantSalt Salt { get; }

    public UInt128 SaltRoot { get; }

    public bool Salted { get; }

    public TieredStore Store { get; }

    public HostMemoryTier Dram { get; }

    public KeyValuePair<string, object?> Tag { get; }

    public ServerStats Stats { get; } = new();

    /// <summary>Constant-time comparison of a presented token against this tenant's.</summary>
    public bool TokenMatches(ReadOnlySpan<byte> token)
    {
        if (_tokenHash.Length == 0)
        {
            return false;
        }

        Span<byte> h = stackalloc byte[32];
        SHA256.HashData(token, h);
        return CryptographicOperations.FixedTimeEquals(h, _tokenHash);
    }

    /// <summary>The stored key of a client key.</summary>
    public ChunkKey Scope(in ChunkKey clientKey) => KeyNames.Scope(clientKey, SaltRoot, Salted);

    public void Dispose()
    {
        Chunks.Dispose();
        Small?.Dispose();
    }
}
