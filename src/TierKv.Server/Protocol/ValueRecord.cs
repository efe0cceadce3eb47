using System.Buffers.Binary;

namespace TierKv.Server.Protocol;

/// <summary>
/// How a value sits in a slot: a header, the key's name as the client sent it, then the value, in a record of fixed
/// size. Fixed-size records let every tier hold any value of up to the slot size as one chunk of a single layout (the
/// SSD tier stores chunks of exactly one layout size); the header gives the value's length, its expiry and its name
/// back after a restart (SCAN lists names; keys are stored as hashes). GET sends the value straight from the record.
/// </summary>
/// <remarks>
/// Format 2 ("TKV2"): u32 value length, u32 magic, i64 expiry (Unix milliseconds, 0: none), u16 name length, u16 0,
/// name, value. Format 1 ("TKV1", written before names were kept): u32 length, u32 magic, value; still read.
/// </remarks>
internal static class ValueRecord
{
    /// <summary>Bytes before the name in format 2.</summary>
    public const int HeaderBytes = 20;

    /// <summary>Room a record reserves for the longest name.</summary>
    public const int MaxOverhead = HeaderBytes + KeyNames.MaxNameBytes;

    /// <summary>Bytes before the value in format 1 records.</summary>
    public const int LegacyPrefixBytes = 8;

    private const uint Magic2 = 0x3256_4B54; // "TKV2" little-endian
    private const uint Magic1 = 0x3156_4B54; // "TKV1"

    /// <summary>Record size for values of up to <paramref name="maxValueBytes"/> with any name: header, name room and value, rounded up to 4 KiB.</summary>
    public static int RecordBytes(int maxValueBytes) => checked((maxValueBytes + MaxOverhead + 4095) / 4096 * 4096);

    /// <summary>Bytes a record needs for this name and value.</summary>
    public static int Needed(int nameLength, int valueLength) => HeaderBytes + nameLength + valueLength;

    /// <summary>The layout whose chunk is exactly one record (its fingerprint marks server records in the chunk format).</summary>
    public static KvLayout Layout(int recordBytes) => new("tierkv/server/value-record/v1", 1, 1, 2048, KvElementType.Int8, recordBytes / 4096);

    /// <summary>Writes the header and name; the value goes at <see cref="ValueOffset(int)"/>. Returns that offset.</summary>
    public static int WriteHeader(Span<byte> record, ReadOnlySpan<byte> name, int valueLength, long expiresAtMs)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)valueLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Magic2);
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], expiresAtMs);
        BinaryPrimitives.WriteUInt16LittleEndian(record[16..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(record[18..], 0);
        name.CopyTo(record[HeaderBytes..]);
        return HeaderBytes + name.Length;
    }

    /// <summary>Where the value of a format 2 record with a name of <paramref name="nameLength"/> bytes begins.</summary>
    public static int ValueOffset(int nameLength) => HeaderBytes + nameLength;

    /// <summary>Writes a format 1 header (no name, no expiry; for tools and tests that build records by hand).</summary>
    public static void WritePrefix(Span<byte> record, int valueLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)valueLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Magic1);
    }

    /// <summary>Reads a record's header; false when the bytes are not a record (then it is treated as a miss).</summary>
    public static bool TryRead(ReadOnlySpan<byte> record, out RecordInfo info) => TryRead(record, record.Length, out info);

    /// <summary>Reads the header from the beginning of a record of <paramref name="recordBytes"/> (a peek at its first bytes).</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> peek, int recordBytes, out RecordInfo info) => TryRead(peek, recordBytes, out info);

    private static bool TryRead(ReadOnlySpan<byte> record, int recordBytes, out RecordInfo info)
    {
        info = default;
        if (record.Length < LegacyPrefixBytes)
        {
            return false;
        }

        uint len = BinaryPrimitives.ReadUInt32LittleEndian(record);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(record[4..]);
        if (magic == Magic1)
        {
            if (len > (uint)(recordBytes - LegacyPrefixBytes))
            {
                return false;
            }

            info = new RecordInfo(LegacyPrefixBytes, (int)len, 0, 0, 0);
            return true;
        }

        if (magic != Magic2 || record.Length < HeaderBytes)
        {
            return false;
        }

        int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(record[16..]);
        long expires = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
        long end = (long)HeaderBytes + nameLen + len;
        if (nameLen > KeyNames.MaxNameBytes || end > recordBytes || HeaderBytes + nameLen > record.Length)
        {
            return false;
        }

        info = new RecordInfo(HeaderBytes + nameLen, (int)len, expires, HeaderBytes, nameLen);
        return true;
    }

    /// <summary>The value's length, or -1 when the record is not one.</summary>
    public static int ReadLength(ReadOnlySpan<byte> record) => TryRead(record, out var info) ? info.ValueLength : -1;
}

/// <summary>Where a record's parts lie: the value at <see cref="ValueOffset"/>, the name at <see cref="NameOffset"/> (length 0 in format 1).</summary>
internal readonly record struct RecordInfo(int ValueOffset, int ValueLength, long ExpiresAtMs, int NameOffset, int NameLength)
{
    /// <summary>True when the value has a time to live that ended at or before <paramref name="nowMs"/>.</summary>
    public bool ExpiredAt(long nowMs) => ExpiresAtMs != 0 && ExpiresAtMs <= nowMs;
}
