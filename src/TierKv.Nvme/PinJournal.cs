using System.Buffers.Binary;
using System.IO.Hashing;
using TierKv.Keys;
using TierKv.Tiers.Slots;

namespace TierKv.Nvme;

/// <summary>
/// The SSD tier's record of live pins, so that a restarted daemon keeps them: one small file beside the chunk files,
/// rewritten whole (to a temporary name, flushed, renamed over the old one) whenever pins change. A pin changes after
/// its chunk was written, so it is not kept in the slot trailer: rewriting a trailer in place would rewrite the page
/// that also holds the payload's tail, and a torn write there would cost the chunk.
/// <code>
/// 0 magic "TKVP" u32   4 format u32 (1)   8 count u32   12 zero u32   then per pin (32 bytes): key (16), deadline Unix ms i64, priority u8, zero (7)   then XXH32 of all before
/// </code>
/// </summary>
internal static class PinJournal
{
    public const string FileName = "tierkv-ssd.pins";
    private const uint Magic = 0x504B5654;
    private const int Format = 1;
    private const int HeaderSize = 16;
    private const int EntrySize = 32;

    /// <summary>Writes <paramref name="pins"/> to <paramref name="directory"/>, replacing the previous record atomically.</summary>
    public static void Write(string directory, ReadOnlySpan<PinRecord> pins)
    {
        var bytes = new byte[HeaderSize + (pins.Length * EntrySize) + 4];
        var d = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(d[4..], Format);
        BinaryPrimitives.WriteInt32LittleEndian(d[8..], pins.Length);
        for (int i = 0; i < pins.Length; i++)
        {
            var e = d.Slice(HeaderSize + (i * EntrySize), EntrySize);
            pins[i].Key.WriteTo(e);
            BinaryPrimitives.WriteInt64LittleEndian(e[16..], pins[i].PinnedUntilMs);
            e[24] = pins[i].Priority;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(d[^4..], XxHash32.HashToUInt32(d[..^4]));
        string path = Path.Combine(directory, FileName);
        string temp = path + ".tmp";
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The recorded pins; empty when there is no record, false when the record is damaged (its pins are lost).</summary>
    public static bool TryRead(string directory, out PinRecord[] pins)
    {
        pins = [];
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return true;
        }

        var s = File.ReadAllBytes(path).AsSpan();
        if (s.Length < HeaderSize + 4
            || BinaryPrimitives.ReadUInt32LittleEndian(s) != Magic
            || BinaryPrimitives.ReadInt32LittleEndian(s[4..]) != Format
            || BinaryPrimitives.ReadInt32LittleEndian(s[8..]) is var count && (count < 0 || s.Length != HeaderSize + ((long)count * EntrySize) + 4)
            || BinaryPrimitives.ReadUInt32LittleEndian(s[^4..]) != XxHash32.HashToUInt32(s[..^4]))
        {
            return false;
        }

        pins = new PinRecord[count];
        for (int i = 0; i < count; i++)
        {
            var e = s.Slice(HeaderSize + (i * EntrySize), EntrySize);
            pins[i] = new PinRecord(ChunkKey.Read(e), e[24], BinaryPrimitives.ReadInt64LittleEndian(e[16..]));
        }

        return true;
    }
}
