using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace TierKv.Server.Protocol;

/// <summary>
/// Maps a key name on the wire to a <see cref="ChunkKey"/>: 32 hex digits are the chunk key itself (what TierKV's
/// remote tier and engines send); any other name (a redis-benchmark key, say) is hashed with XXH3-128 under its own
/// domain tag, so it can never collide with a chunk key by construction of the input.
/// </summary>
internal static class KeyNames
{
    /// <summary>Longest key name accepted.</summary>
    public const int MaxNameBytes = 1024;

    private static ReadOnlySpan<byte> NameTag => "TierKV/name/v1"u8;

    public static bool TryMap(ReadOnlySpan<byte> name, out ChunkKey key)
    {
        key = default;
        if (name.IsEmpty || name.Length > MaxNameBytes)
        {
            return false;
        }

        if (name.Length == 32 && UInt128.TryParse(name, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v))
        {
            key = new ChunkKey(v);
            return true;
        }

        Span<byte> buf = stackalloc byte[NameTag.Length + MaxNameBytes];
        NameTag.CopyTo(buf);
        name.CopyTo(buf[NameTag.Length..]);
        key = new ChunkKey(XxHash128.HashToUInt128(buf[..(NameTag.Length + name.Length)]));
        return true;
    }

    /// <summary>The key a tenant's chunk is stored under: the client's key when the tenant has no salt, else XXH3-128(salt root ‖ key).</summary>
    public static ChunkKey Scope(in ChunkKey clientKey, UInt128 saltRoot, bool salted)
    {
        if (!salted)
        {
            return clientKey;
        }

        Span<byte> pair = stackalloc byte[2 * ChunkKey.Size];
        BinaryPrimitives.WriteUInt128BigEndian(pair, saltRoot);
        clientKey.WriteTo(pair[ChunkKey.Size..]);
        return new ChunkKey(XxHash128.HashToUInt128(pair));
    }

    /// <summary>The root of a tenant's key scope: XXH3-128("TierKV/tenant/v1" ‖ u32 len ‖ salt).</summary>
    public static UInt128 SaltRoot(TenantSalt salt)
    {
        ReadOnlySpan<byte> tag = "TierKV/tenant/v1"u8;
        var buf = new byte[tag.Length + 4 + salt.Bytes.Length];
        tag.CopyTo(buf);
        BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(tag.Length), (uint)salt.Bytes.Length);
        salt.Bytes.CopyTo(buf.AsSpan(tag.Length + 4));
        return XxHash128.HashToUInt128(buf);
    }
}
