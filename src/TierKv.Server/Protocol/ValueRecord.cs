using System.Buffers.Binary;
using TierKv.Keys;

namespace TierKv.Server.Protocol;

/// <summary>
/// How a value sits in a chunk slot: an 8-byte prefix (u32 little-endian length, then "TKV1") and the value, in a
/// record of fixed size. Fixed-size records let every tier hold any value of up to the slot size as one chunk of a
/// single layout (the SSD tier stores chunks of exactly one layout size), and the prefix gives the value's length
/// back after a restart. GET sends the value straight from the record in place.
/// </summary>
internal static class ValueRecord
{
    public const int PrefixBytes = 8;

    private const uint Magic = 0x3156_4B54; // "TKV1" little-endian

    /// <summary>Record size for values of up to <paramref name="maxValueBytes"/>: prefix plus value, rounded up to 4 KiB.</summary>
    public static int RecordBytes(int maxValueBytes) => checked((maxValueBytes + PrefixBytes + 4095) / 4096 * 4096);

    /// <summary>The layout whose chunk is exactly one record (its fingerprint marks server records in the chunk format).</summary>
    public static KvLayout Layout(int recordBytes) => new("tierkv/server/value-record/v1", 1, 1, 2048, KvElementType.Int8, recordBytes / 4096);

    public static void WritePrefix(Span<byte> record, int valueLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)valueLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Magic);
    }

    /// <summary>The value's length, or -1 when the record is not one (then it is treated as a miss).</summary>
    public static int ReadLength(ReadOnlySpan<byte> record)
    {
        if (record.Length < PrefixBytes || BinaryPrimitives.ReadUInt32LittleEndian(record[4..]) != Magic)
        {
            return -1;
        }

        uint len = BinaryPrimitives.ReadUInt32LittleEndian(record);
        return len <= (uint)(record.Length - PrefixBytes) ? (int)len : -1;
    }
}
