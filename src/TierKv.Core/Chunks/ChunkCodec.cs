
namespace TierKv.Chunks;

/// <summary>
/// Encodes and verifies stored chunks: a <see cref="ChunkHeader"/> followed by the payload. Verification rejects
/// every kind of damage with a <see cref="ChunkDamage"/> reason; a caller treats anything but
/// <see cref="ChunkDamage.None"/> as a miss.
/// </summary>
public static class ChunkCodec
{
    /// <summary>Bytes of an encoded chunk with a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int EncodedLength(int payloadLength) => ChunkHeader.Size + payloadLength;

    /// <summary>Writes header and payload into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Encode(KvLayout layout, ChunkKey key, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (destination.Length < EncodedLength(payload.Length))
        {
            throw new ArgumentException($"An encoded chunk of {payload.Length} payload bytes needs {EncodedLength(payload.Length)} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        ChunkHeader.For(layout, key, payload).WriteTo(destination);
        payload.CopyTo(destination[ChunkHeader.Size..]);
        return EncodedLength(payload.Length);
    }

    /// <summary>Encodes into a new array.</summary>
    public static byte[] Encode(KvLayout layout, ChunkKey key, ReadOnlySpan<byte> payload)
    {
        var buf = new byte[EncodedLength(payload.Length)];
        Encode(layout, key, payload, buf);
        return buf;
    }

    /// <summary>
    /// Verifies an encoded chunk against what the reader expects. On success <paramref name="payload"/> is the
    /// payload inside <paramref name="encoded"/>; on damage it is empty.
    /// </summary>
    public static ChunkDamage Verify(ReadOnlySpan<byte> encoded, ChunkKey expectedFingerprint, ChunkKey expectedKey, int expectedPayloadLength, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        var damage = ChunkHeader.TryRead(encoded, out var header);
        if (damage != ChunkDamage.None)
        {
            return damage;
        }

        damage = VerifyHeader(header, expectedFingerprint, expectedKey, expectedPayloadLength);
        if (damage != ChunkDamage.None)
        {
            return damage;
        }

        if (encoded.Length - ChunkHeader.Size < header.PayloadLength)
        {
            return ChunkDamage.Truncated;
        }

        var body = encoded.Slice(ChunkHeader.Size, (int)header.PayloadLength);
        if (ChunkHeader.PayloadHash(body) != header.PayloadChecksum)
        {
            return ChunkDamage.BadChecksum;
        }

        payload = body;
        return ChunkDamage.None;
    }

    /// <summary>Verifies an encoded chunk for a layout.</summary>
    public static ChunkDamage Verify(ReadOnlySpan<byte> encoded, KvLayout layout, ChunkKey expectedKey, out ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return Verify(encoded, layout.Fingerprint, expectedKey, layout.ChunkBytes, out payload);
    }

    /// <summary>Checks a parsed header's identity fields (not the payload checksum).</summary>
    public static ChunkDamage VerifyHeader(in ChunkHeader header, ChunkKey expectedFingerprint, ChunkKey expectedKey, int expectedPayloadLength)
    {
        if (header.LayoutFingerprint != expectedFingerprint)
        {
            return ChunkDamage.WrongLayout;
        }

        if (header.Key != expectedKey)
        {
            return ChunkDamage.WrongKey;
        }

        if (expectedPayloadLength >= 0 && header.PayloadLength != expectedPayloadLength)
        {
            return ChunkDamage.WrongLength;
        }

        return ChunkDamage.None;
    }
}
