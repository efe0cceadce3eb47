using System.Buffers.Binary;
using System.IO.Hashing;
using TierKv.Keys;

namespace TierKv.Nvme;

/// <summary>
/// 64 bytes written right after a chunk's payload in its slot, inside the padding to 4 KiB: the write sequence number
/// (so recovery restores the eviction order), the parent key (so prefix-aware eviction survives a restart) and the
/// chunk's version (so recovery keeps the newest copy of a key; 0 in files of earlier releases and for content-addressed chunks). It has
/// its own checksum and names the chunk's key; a damaged trailer only loses that order, never data. Bits 8 to 15 of the
/// flags hold the chunk's priority (<c>ChunkPriorities</c>; 0, normal, in files of earlier releases, which ignore them).
/// <code>
/// 0 magic "TKVT" u32   4 flags u32 (bit 0 = has parent, bits 8-15 = priority)   8 sequence u64   16 key (16)   32 parent (16)   48 version u64   56 zero (4)   60 XXH32 of 0..59
/// </code>
/// </summary>
internal static class SlotTrailer
{
    public const int Size = 64;
    private const uint Magic = 0x54564B54;

    public static void Write(Span<byte> d, in ChunkKey key, ChunkKey? parent, long sequence, long version, byte priority = 0)
    {
        d = d[..Size];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], (parent.HasValue ? 1u : 0u) | ((uint)priority << 8));
        BinaryPrimitives.WriteInt64LittleEndian(d[8..], sequence);
        key.WriteTo(d[16..]);
        if (parent is { } p)
        {
            p.WriteTo(d[32..]);
        }

        BinaryPrimitives.WriteInt64LittleEndian(d[48..], version);
        BinaryPrimitives.WriteUInt32LittleEndian(d[60..], XxHash32.HashToUInt32(d[..60]));
    }

    public static bool TryRead(ReadOnlySpan<byte> s, in ChunkKey expectedKey, out long sequence, out ChunkKey? parent, out long version, out byte priority)
    {
        sequence = 0;
        version = 0;
        parent = null;
        priority = 0;
        if (s.Length < Size)
        {
            return false;
        }

        s = s[..Size];
        if (BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic
            || BinaryPrimitives.ReadUInt32LittleEndian(s[60..]) != XxHash32.HashToUInt32(s[..60])
            || ChunkKey.Read(s[16..]) != expectedKey)
        {
            return false;
        }

        sequence = BinaryPrimitives.ReadInt64LittleEndian(s[8..]);
        version = BinaryPrimitives.ReadInt64LittleEndian(s[48..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(s[4..]);
        priority = (byte)(flags >> 8);
        if ((flags & 1) != 0)
        {
            parent = ChunkKey.Read(s[32..]);
        }

        return true;
    }
}
