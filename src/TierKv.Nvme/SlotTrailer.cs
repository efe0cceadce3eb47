using System.Buffers.Binary;
using System.IO.Hashing;
using TierKv.Keys;

namespace TierKv.Nvme;

/// <summary>
/// 64 bytes written right after a chunk's payload in its slot, inside the padding to 4 KiB: the write sequence number
/// (so recovery restores the eviction order), the parent key (so prefix-aware eviction survives a restart) and the
/// chunk's version (so recovery keeps the newest copy of a key; 0 in files of earlier releases and for content-addressed chunks). It has
/// its own checksum and names the chunk's key; a damaged trailer only loses that order, never data.
/// <code>
/// 0 magic "TKVT" u32   4 flags u32 (1 = has parent)   8 sequence u64   16 key (16)   32 parent (16)   48 version u64   56 zero (4)   60 XXH32 of 0..59
/// </code>
/// </summary>
internal static class SlotTrailer
{
    public const int Size = 64;
    private const uint Magic = 0x54564B54;

    public static void Write(Span<byte> d, in ChunkKey key, ChunkKey? parent, long sequence, long version)
    {
        d = d[..Size];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], parent.HasValue ? 1u : 0u);
        BinaryPrimitives.WriteInt64LittleEndian(d[8..], sequence);
        key.WriteTo(d[16..]);
        if (parent is { } p)
        {
            p.WriteTo(d[32..]);
        }

        BinaryPrimitives.WriteInt64LittleEndian(d[48..], version);
        BinaryPrimitives.WriteUInt32LittleEndian(d[60..], XxHash32.HashToUInt32(d[..60]));
    }

    public static bool TryRead(ReadOnlySpan<byte> s, in ChunkKey expectedKey, out long sequence, out ChunkKey? parent, out long version)
    {
        sequence = 0;
        version = 0;
        parent = null;
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
        if ((BinaryPrimitives.ReadUInt32LittleEndian(s[4..]) & 1) != 0)
        {
            parent = ChunkKey.Read(s[32..]);
        }

        return true;
    }
}
