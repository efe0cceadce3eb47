using System.Text;

namespace TierKv.Keys;

/// <summary>
/// A tenant's salt: bytes that enter the root of every chunk key of that tenant, so tenants never share, probe or
/// time each other's prefixes. The empty salt is the single-tenant default.
/// </summary>
public sealed class TenantSalt : IEquatable<TenantSalt>
{
    /// <summary>Largest accepted salt.</summary>
    public const int MaxBytes = 1024;

    private readonly byte[] _bytes;

    private TenantSalt(byte[] bytes) => _bytes = bytes;

    /// <summary>The empty salt (no tenant separation).</summary>
    public static TenantSalt None { get; } = new([]);

    /// <summary>The salt bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>A salt from raw bytes (copied).</summary>
    public static TenantSalt FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxBytes)
        {
            throw new ArgumentException($"A tenant salt is at most {MaxBytes} bytes; got {bytes.Length}.", nameof(bytes));
        }

        return bytes.Length == 0 ? None : new TenantSalt(bytes.ToArray());
    }

    /// <summary>A salt from a string's UTF-8 bytes.</summary>
    public static TenantSalt FromString(string salt) => FromBytes(Encoding.UTF8.GetBytes(salt));

    /// <inheritdoc />
    public bool Equals(TenantSalt? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as TenantSalt);

    /// <inheritdoc />
    public override int GetHashCode() => (int)System.IO.Hashing.XxHash32.HashToUInt32(_bytes);

    /// <inheritdoc />
    public override string ToString() => _bytes.Length == 0 ? "(none)" : Convert.ToHexStringLower(_bytes);
}
