using System.Buffers.Binary;
using System.IO.Hashing;

namespace TierKv.Chunks;

/// <summary>
/// The 64-byte header in front of every stored chunk (docs/chunk-format.md). All integers little-endian; keys and the
/// layout fingerprint in their canonical 16-byte big-endian form.
/// <code>
/// 0  magic "TKVC" (4)   4 version u16   6 header size u16 (64)
/// 8  layout fingerprint (16)   24 chunk key (16)
/// 40 payload length u64   48 payload XXH3-64 u64   56 flags u32 (0)   60 header XXH32 of bytes 0..59 u32
/// </code>
/// </summary>
public readonly record struct ChunkHeader(ChunkKey LayoutFingerprint, ChunkKey Key, long PayloadLength, ulong PayloadChecksum)
{
    /// <summary>Header size in bytes.</summary>
    public const int Size = 64;

    /// <summary>Current format version.</summary>
    public const ushort Version = 1;

    /// <summary>"TKVC" read as a little-endian u32.</summary>
    public const uint Magic = 0x43564B54;

    /// <summary>Builds the header of a payload, computing its checksum.</summary>
    public static ChunkHeader For(KvLayout layout, ChunkKey key, ReadOnlySpan<byte> payload) =>
        new(layout.Fingerprint, key, payload.Length, PayloadHash(payload));

    /// <summary>The payload checksum: XXH3-64, seed 0.</summary>
    public static ulong PayloadHash(ReadOnlySpan<byte> payload) => XxHash3.HashToUInt64(payload);

    /// <summary>Writes the 64-byte header.</summary>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A chunk header needs {Size} bytes.", nameof(destination));
        }

        var d = destination[..Size];
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(d[6..], Size);
        LayoutFingerprint.WriteTo(d[8..]);
        Key.WriteTo(d[24..]);
        BinaryPrimitives.WriteUInt64LittleEndian(d[40..], (ulong)PayloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(d[48..], PayloadChecksum);
        BinaryPrimitives.WriteUInt32LittleEndian(d[56..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(d[60..], XxHash32.HashToUInt32(d[..60]));
    }

    /// <summary>Parses a header, checking magic, version, size and the header checksum only.</summary>
    public static ChunkDamage TryRead(ReadOnlySpan<byte> source, out ChunkHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return ChunkDamage.Truncated;
        }

        var s = source[..Size];
        if (BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic)
        {
            return ChunkDamage.BadMagic;
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(s[4..]) != Version || BinaryPrimitives.ReadUInt16LittleEndian(s[6..]) != Size)
        {
            return ChunkDamage.BadVersion;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(s[60..]) != XxHash32.HashToUInt32(s[..60]))
        {
            return ChunkDamage.BadHeaderChecksum;
        }

        long len = (long)BinaryPrimitives.ReadUInt64LittleEndian(s[40..]);
        if (len < 0)
        {
            return ChunkDamage.WrongLength;
        }

        header = new ChunkHeader(ChunkKey.Read(s[8..]), ChunkKey.Read(s[24..]), len, BinaryPrimitives.ReadUInt64LittleEndian(s[48..]));
        return ChunkDamage.None;
    }
}
